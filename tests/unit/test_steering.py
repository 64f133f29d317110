"""Latency-aware strategies steer away from a backend ten times slower than the rest."""

from __future__ import annotations

import random

import pytest

from lbbench.core.backends import Backend
from lbbench.core.config import RouterConfig
from lbbench.core.router import Router
from tests.unit.fleet import FakeBackend, Fleet, exponential

FAST_MS, SLOW_MS = 2.0, 20.0


def run_fleet(strategy: str, seed: int = 3, duration: float = 8.0, rate: float = 1500.0) -> Fleet:
    ids = [f"t{i}" for i in range(5)]
    router = Router(
        RouterConfig(strategy=strategy, deadline_s=5.0),
        [Backend(i) for i in ids],
        rng=random.Random(seed),
    )
    backends = {
        i: FakeBackend(i, exponential((SLOW_MS if i == "t4" else FAST_MS) / 1e3), capacity=4)
        for i in ids
    }
    fleet = Fleet(router, backends, seed=seed)
    fleet.poisson(rate, duration)
    fleet.run(duration)
    fleet.drain()
    return fleet


# strategy, the slow backend's largest acceptable share after warm-up. For
# scale, on this fleet round robin gives it 0.20, p2c about 0.06 and
# least_connections about 0.046 (they see its queue, not its latency).
STEERING = [
    ("peak_ewma", 0.02),
    ("probing", 0.02),
    ("adaptive", 0.02),
]


@pytest.mark.parametrize(("strategy", "max_share"), STEERING)
def test_latency_aware_strategies_avoid_the_slow_backend(strategy, max_share):
    fleet = run_fleet(strategy)
    slow_share = fleet.shares(since=3.0)["t4"]
    assert slow_share <= max_share, slow_share
    assert fleet.outcome_counts()["ok"] == len(fleet.replies)


def test_load_blind_round_robin_does_not_avoid_it():
    fleet = run_fleet("round_robin")
    assert fleet.shares(since=3.0)["t4"] == pytest.approx(0.2, abs=0.01)


def test_adaptive_records_why_it_switched():
    fleet = run_fleet("adaptive")
    strategy = fleet.router.strategy
    assert strategy.switches, "adaptive never left round robin"
    first = strategy.switches[0]
    assert (first.old, first.new) == ("weighted_round_robin", "peak_ewma")
    assert "diverged" in first.reason and "median" in first.reason
    assert fleet.router.snapshot()["strategy_status"]["policy"] == "peak_ewma"


def test_adaptive_stays_load_blind_while_backends_look_alike():
    ids = [f"t{i}" for i in range(4)]
    router = Router(
        RouterConfig(strategy="adaptive"), [Backend(i) for i in ids], rng=random.Random(1)
    )
    fleet = Fleet(router, {i: FakeBackend(i, exponential(0.002), capacity=4) for i in ids})
    fleet.poisson(800, 6.0)
    fleet.run(6.0)
    fleet.drain()
    assert router.strategy.switches == []
