"""A failover policy needs no router: it acts through ``PolicyContext`` alone, so a small
fake of that interface is enough to test one (here the circuit breaker), and whatever a
hook does reaches the driver as actions of the router entry point that called it."""

from __future__ import annotations

import random

from lbbench.core.backends import Backend, BackendState
from lbbench.core.config import RouterConfig
from lbbench.core.failover.circuit_breaker import BreakerConfig, CircuitBreakerPolicy
from lbbench.core.failover.context import PolicyContext
from lbbench.core.records import Attempt, Request
from lbbench.core.router import Router
from lbbench.vocabulary import ERROR, OK


class FakeContext:
    """Records what a policy asks of the router."""

    def __init__(self, backends: list[BackendState]) -> None:
        self.rng = random.Random(0)
        self.config = RouterConfig()
        self.backends = {b.id: b for b in backends}
        self.asked: list[tuple] = []

    def arm(self, at, owner, kind, ref, tag=None):
        self.asked.append(("arm", round(at, 6), str(kind), ref.id))

    def send(self, request, now, extra=False):
        self.asked.append(("send", request.rid))
        return True

    def time_out(self, attempt, now):
        self.asked.append(("time_out", attempt.aid))

    def finish(self, request, now, status=None, backend_id=None):
        self.asked.append(("finish", request.rid, status))

    def count(self, name):
        self.asked.append(("count", name))

    def note(self, now, backend, kind, detail):
        self.asked.append(("note", backend.id, str(kind)))

    def pools_changed(self):
        self.asked.append(("pools_changed",))

    def refresh_pools(self):
        pass

    @property
    def joined(self):
        return tuple(self.backends.values())

    @property
    def pending(self):
        return 0


def test_the_fake_and_the_router_are_both_policy_contexts():
    def takes(context: PolicyContext) -> PolicyContext:  # (mypy checks the two below)
        return context

    takes(FakeContext([]))
    takes(Router(RouterConfig(), rng=random.Random(0)))


OPENED = [("pools_changed",), ("note", "b0", "open"), ("arm", 1.5, "open", "b0")]
# outcomes of attempts on one backend (window 4, at least 4, opens at half failing), then:
# what the breaker asked of the router
BREAKER = [
    ([OK] * 4, []),
    ([ERROR] * 3, []),  # under min_requests: no verdict yet
    ([ERROR] * 4, OPENED),
    ([OK, ERROR, OK, ERROR], OPENED),
]


def test_a_circuit_breaker_unit_tested_on_a_fake_router():
    for outcomes, asked in BREAKER:
        backend = BackendState(Backend("b0"))
        context = FakeContext([backend])
        policy = CircuitBreakerPolicy(BreakerConfig(window=4, min_requests=4, open_s=1.0), context)
        policy.start(0.0)
        for aid, outcome in enumerate(outcomes):
            request = Request(aid, None, 0.0, 1.0)
            policy.on_attempt_done(Attempt(aid, request, backend, 0.0, False), outcome, 0.01, 0.5)
        assert context.asked == asked, outcomes
        assert policy.admits(backend) is (not asked)


def test_a_hook_run_by_a_heartbeat_or_a_probe_reply_gets_its_actions_out():
    """on_heartbeat and on_probe_reply once returned nothing: an action a hook made there
    (a timer armed, say) was silently lost."""
    from lbbench.core.actions import Arm
    from lbbench.core.failover import FAILOVER
    from lbbench.core.failover.base import FailoverPolicy, register, unregister

    class ArmsOnHeartbeat(FailoverPolicy):
        name = "arms_on_heartbeat"
        summary = "a test mode: arms a timer on every heartbeat"

        def on_heartbeat(self, backend, now):
            self.router.arm(now + 1.0, self, "tick", backend)

        def on_timer(self, timer, now):
            pass

    register(ArmsOnHeartbeat)
    try:
        config = RouterConfig().__class__(
            failover=RouterConfig().failover.__class__(modes=("arms_on_heartbeat",))
        )
        router = Router(config, [Backend("b0")], rng=random.Random(0))
        router.start(0.0)
        actions = router.on_heartbeat(0.5, "b0")
        assert [type(a) for a in actions] == [Arm] and actions[0].at == 1.5
        assert router.on_probe_reply(0.6, "b0", 3, 0.01) == []
    finally:
        unregister("arms_on_heartbeat")
        assert "arms_on_heartbeat" not in FAILOVER
