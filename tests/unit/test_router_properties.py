"""Property tests: the router's invariants hold over random event sequences."""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbbench.core.actions import Arm, Cancel, Probe, Reply, Send
from lbbench.core.backends import Backend
from lbbench.core.config import FailoverConfig, RouterConfig
from lbbench.core.failover import (
    AdmissionConfig,
    BreakerConfig,
    EjectConfig,
    HedgeConfig,
    RetryConfig,
)
from lbbench.core.router import Router
from lbbench.core.strategies import STRATEGIES
from lbbench.vocabulary import OUTCOMES

IDS = ["a", "b", "c", "d"]
MODE_SETS = [
    ("fail_fast",),
    ("retry",),
    ("eject",),
    ("eject", "retry"),
    ("hedge",),
    ("hedge", "retry"),
    ("circuit_breaker",),
    ("circuit_breaker", "retry"),
    ("primary_backup", "eject"),
    ("primary_backup", "eject", "retry", "hedge", "circuit_breaker"),
    ("admission",),
    ("admission", "eject", "retry", "hedge"),
]

# Small thresholds so that ejections, breakers, hedges and retries all happen.
FAILOVER = dict(
    retry=RetryConfig(max_attempts=3, per_try_timeout_s=0.05, budget_min_retries=5),
    hedge=HedgeConfig(delay_s=0.01, budget_ratio=0.5),
    eject=EjectConfig(
        consecutive_failures=2,
        base_ejection_s=0.05,
        max_ejection_s=0.2,
        heartbeat_interval_s=0.02,
        heartbeat_down_after=2,
        heartbeat_up_after=1,
        latency_factor=3.0,
        latency_min_samples=2,
    ),
    circuit_breaker=BreakerConfig(window=4, min_requests=2, open_s=0.05, half_open_trials=1),
    admission=AdmissionConfig(initial_limit=3, min_limit=1, latency_share=0.1),
)

op = st.one_of(
    st.tuples(st.just("request"), st.sampled_from([None, b"k1", b"k2", b"k3"])),
    st.tuples(st.just("reply"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("send_failed"), st.integers(0, 10_000)),
    st.tuples(st.just("advance"), st.floats(0.0, 0.2)),
    st.tuples(st.just("heartbeat"), st.sampled_from([*IDS, "ghost"])),
    st.tuples(st.just("leave"), st.sampled_from(IDS)),
    st.tuples(st.just("join"), st.sampled_from(IDS), st.integers(1, 3)),
    st.tuples(st.just("probe"), st.sampled_from(IDS), st.integers(0, 9), st.floats(0.0, 0.1)),
)


class Harness:
    def __init__(self, strategy: str, modes: tuple[str, ...], seed: int) -> None:
        config = RouterConfig(
            strategy=strategy,
            failover=FailoverConfig(modes=modes, settings=FAILOVER),
            deadline_s=0.3,
            max_pending=8,
        )
        backends = [Backend(i, weight=1 + n % 2, tier=n // 2) for n, i in enumerate(IDS)]
        self.router = Router(config, backends, rng=random.Random(seed))
        self.now = 0.0
        self.timers: list = []
        self.seq = itertools.count()
        self.rids = itertools.count()
        self.live: list[int] = []  # attempts sent and not yet closed, as far as we know
        self.replies: Counter[int] = Counter()
        self.asked: set[int] = set()
        self.apply(self.router.start(0.0))

    def apply(self, actions) -> None:
        router = self.router
        for action in actions:
            if isinstance(action, Send):
                backend = router.backends.get(action.backend)
                assert backend is not None, f"send to unknown backend {action.backend}"
                assert backend.joined, f"send to departed backend {action.backend}"
                eject = router.policy("eject")
                assert eject is None or eject.admits(backend), (
                    f"send to ejected backend {action.backend}"
                )
                breaker = router.policy("circuit_breaker")
                assert breaker is None or breaker.breaker(backend).state != "open", (
                    f"send to open-circuit backend {action.backend}"
                )
                self.live.append(action.attempt)
            elif isinstance(action, Reply):
                assert action.status in OUTCOMES
                assert action.request in self.asked
                self.replies[action.request] += 1
                assert self.replies[action.request] == 1, f"request {action.request} answered twice"
            elif isinstance(action, Arm):
                assert action.at >= self.now
                heapq.heappush(self.timers, (action.at, next(self.seq), action.timer))
            elif isinstance(action, Cancel | Probe):
                pass
            else:
                raise AssertionError(action)
        self.check_counts()

    def check_counts(self) -> None:
        router = self.router
        per_backend = Counter(a.backend.id for a in router._attempts.values())
        for backend in router.backends.values():
            assert backend.in_flight >= 0
            assert backend.in_flight == per_backend[backend.id]
            assert backend.load == backend.in_flight  # view "local": strategies read its own
        for pool in router._pools.pools:
            assert pool.in_flight == sum(m.in_flight for m in pool.members)

    def advance(self, dt: float) -> None:
        until = self.now + dt
        while self.timers and self.timers[0][0] <= until:
            at, _, timer = heapq.heappop(self.timers)
            self.now = at
            self.apply(self.router.on_timer(at, timer))
        self.now = until

    def step(self, operation) -> None:
        kind = operation[0]
        router = self.router
        if kind == "request":
            rid = next(self.rids)
            self.asked.add(rid)
            self.apply(router.on_request(self.now, rid, operation[1]))
        elif kind in ("reply", "send_failed") and self.live:
            attempt = self.live.pop(operation[1] % len(self.live))
            if kind == "reply":
                self.apply(router.on_reply(self.now, attempt, operation[2]))
            else:
                self.apply(router.on_send_failed(self.now, attempt))
        elif kind == "advance":
            self.advance(operation[1])
        elif kind == "heartbeat":
            self.apply(router.on_heartbeat(self.now, operation[1]))
        elif kind == "leave":
            self.apply(router.on_leave(self.now, operation[1]))
        elif kind == "join":
            backend_id, weight = operation[1], operation[2]
            tier = IDS.index(backend_id) // 2
            self.apply(router.on_join(self.now, Backend(backend_id, weight=weight, tier=tier)))
        elif kind == "probe":
            self.apply(router.on_probe_reply(self.now, operation[1], operation[2], operation[3]))

    def finish(self) -> None:
        # Run the clock well past every deadline: all requests must be answered.
        self.advance(5.0)
        assert self.router.pending == 0
        assert set(self.replies) == self.asked
        assert all(count == 1 for count in self.replies.values())
        assert all(b.in_flight == 0 for b in self.router.backends.values())
        stats = self.router.stats
        assert sum(stats.outcomes.values()) == len(self.asked) == stats.requests


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    strategy=st.sampled_from(sorted(STRATEGIES)),
    modes=st.sampled_from(MODE_SETS),
    seed=st.integers(0, 2**16),
    operations=st.lists(op, max_size=120),
)
def test_every_request_gets_exactly_one_outcome_and_no_send_breaks_health(
    strategy, modes, seed, operations
):
    harness = Harness(strategy, modes, seed)
    for operation in operations:
        harness.step(operation)
    harness.finish()
