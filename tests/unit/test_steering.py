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


def run_adaptive(profile, start_aware: bool, rate: float, duration: float) -> World:
    options = {"start_aware": start_aware}
    sc = scenario(profile, strategy="adaptive", rate=rate, duration_s=duration, deadline_s=5.0)
    return World(sc.with_settings({f"strategy_options.{k}": v for k, v in options.items()}),
                 seed=3).run()  # fmt: skip


DIVERGED = {f"t{i}": exponential(SLOW_S if i == 4 else FAST_S) for i in range(5)}
ALIKE = {f"t{i}": exponential(FAST_S) for i in range(4)}

# (fleet, start latency-aware?, the switches it must record (from, to, why), policy at the end)
ADAPTIVE = [
    pytest.param(DIVERGED, True, [], "peak_ewma", id="diverged fleet, aware start: stays aware"),
    pytest.param(DIVERGED, False, [("weighted_round_robin", "peak_ewma", "diverged")],
                 "peak_ewma", id="diverged fleet, calm start: switches to peak EWMA"),
    pytest.param(ALIKE, True, [("peak_ewma", "weighted_round_robin", "converged")],
                 "weighted_round_robin", id="alike fleet, aware start: settles on round robin"),
    pytest.param(ALIKE, False, [], "weighted_round_robin",
                 id="alike fleet, calm start: stays load-blind"),
]  # fmt: skip


@pytest.mark.parametrize(("latency", "start_aware", "switches", "policy"), ADAPTIVE)
def test_adaptive_switches_only_when_the_fleet_says_so_and_records_why(
    latency, start_aware, switches, policy
):
    run = run_adaptive(fleet(latency, capacity=4), start_aware, rate=1000.0, duration=6.0)
    strategy = run.router.strategy
    assert [(s.old, s.new) for s in strategy.switches] == [(a, b) for a, b, _ in switches]
    for switch, (_, _, why) in zip(strategy.switches, switches, strict=True):
        assert why in switch.reason and "median" in switch.reason
    assert run.router.snapshot()["strategy_status"]["policy"] == policy
