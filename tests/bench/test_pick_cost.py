"""Pick cost of every strategy, and the router's decision cost (pytest-benchmark).

Measure with:  pytest tests/bench --benchmark-enable -m "slow or not slow"
(the default test run executes each case once, as a smoke test). These
benchmarks measure; they assert nothing about time.
"""

from __future__ import annotations

import itertools
import random

import pytest

from lbbench.core.backends import Backend, BackendState
from lbbench.core.config import FailoverConfig, RouterConfig
from lbbench.core.router import Router, Send
from lbbench.core.strategies import STRATEGIES, Pool, make_strategy

SIZES = [10, 100, 1_000, 10_000]


class _Request:
    __slots__ = ("key",)

    def __init__(self, key: bytes | None) -> None:
        self.key = key


def _pool(size: int) -> Pool:
    rng = random.Random(size)
    members = [BackendState(Backend(f"b{i}", weight=rng.choice((1, 1, 2, 3)))) for i in range(size)]
    for member in members:
        member.in_flight = member.load = rng.randrange(8)
        member.observe_latency(rng.uniform(0.001, 0.01), 0.0)
    return Pool(members)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_pick_cost(benchmark, name, size):
    pool = _pool(size)
    strategy = make_strategy(name, random.Random(1))
    requests = itertools.cycle([_Request(f"key-{i}".encode()) for i in range(1024)])
    if name == "probing":
        rng = random.Random(2)
        for backend in rng.sample(pool.members, min(16, size)):
            strategy.on_probe(backend, rng.randrange(8), rng.uniform(0.001, 0.01), 0.0)
    strategy.pick(pool, next(requests), 0.0)  # build hash tables outside the timing
    clock = itertools.count()

    def pick():
        return strategy.pick(pool, next(requests), next(clock) * 1e-9)

    if name == "probing":
        # A request's whole cost: its probes sent and their replies taken into the pool (as
        # if they came back at once), then the pick; without them the pool runs dry after a
        # few picks and the bench would time the fallback.
        def pick():
            now = next(clock) * 1e-9
            for backend in strategy.probes(pool, now):
                strategy.on_probe(backend, rng.randrange(8), rng.uniform(0.001, 0.01), now)
            return strategy.pick(pool, next(requests), now)

    benchmark.extra_info["backends"] = size
    benchmark(pick)


@pytest.mark.parametrize(
    ("strategy", "modes"),
    [("round_robin", ("fail_fast",)), ("p2c", ("fail_fast",)), ("p2c", ("eject", "retry"))],
)
def test_router_request_reply_cost(benchmark, strategy, modes):
    """One request in, its attempt answered: the router's whole bookkeeping."""
    router = Router(
        RouterConfig(strategy=strategy, failover=FailoverConfig(modes=modes)),
        [Backend(f"t{i}") for i in range(10)],
        rng=random.Random(1),
    )
    rids = itertools.count()

    def round_trip():
        rid = next(rids)
        now = rid * 1e-5
        actions = router.on_request(now, rid)
        send = next(a for a in actions if isinstance(a, Send))
        return router.on_reply(now + 1e-6, send.attempt, True)

    benchmark(round_trip)
