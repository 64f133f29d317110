"""Latency-aware strategies steer away from a backend ten times slower than the rest."""

from __future__ import annotations

import pytest

from tests.unit.world import World, exponential, fleet, scenario

FAST_S, SLOW_S = 0.002, 0.020


def run_fleet(strategy: str, seed: int = 3, duration: float = 8.0, rate: float = 1500.0) -> World:
    latency = {f"t{i}": exponential(SLOW_S if i == 4 else FAST_S) for i in range(5)}
    profile = fleet(latency, capacity=4)
    sc = scenario(profile, strategy=strategy, rate=rate, duration_s=duration, deadline_s=5.0)
    return World(sc, seed=seed).run()


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
    run = run_fleet(strategy)
    slow_share = run.shares(since=3.0)["t4"]
    assert slow_share <= max_share, slow_share
    assert run.outcome_counts()["ok"] == len(run.replies)


def test_load_blind_round_robin_does_not_avoid_it():
    run = run_fleet("round_robin")
    assert run.shares(since=3.0)["t4"] == pytest.approx(0.2, abs=0.01)


def test_adaptive_records_why_it_switched():
    run = run_fleet("adaptive")
    strategy = run.router.strategy
    assert strategy.switches, "adaptive never left round robin"
    first = strategy.switches[0]
    assert (first.old, first.new) == ("weighted_round_robin", "peak_ewma")
    assert "diverged" in first.reason and "median" in first.reason
    assert run.router.snapshot()["strategy_status"]["policy"] == "peak_ewma"


def test_adaptive_stays_load_blind_while_backends_look_alike():
    profile = fleet({f"t{i}": exponential(0.002) for i in range(4)}, capacity=4)
    run = World(scenario(profile, strategy="adaptive", rate=800, duration_s=6.0)).run()
    assert run.router.strategy.switches == []
