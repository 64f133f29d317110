"""The simulator's event rate (pytest-benchmark): events per second of wall time.

Measure with:  pytest tests/bench/test_sim_rate.py --benchmark-enable -m "slow or not slow"
Each round simulates the same seeded 20 000 requests (so the same events)
on a synthetic fleet loaded to 70 % with 5 % of backends 10x slower; the
figure is ``extra_info["events"]`` over the round's time. The time for
10 000 backends x 10 million requests is measured by the command in the
README, not here (it takes minutes).
"""

from __future__ import annotations

import pytest

from lbbench.scenario.fleets import rate_for_utilization, synthetic_fleet
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.scenario import Scenario
from lbbench.sim import Simulation

REQUESTS = 20_000


def measure(benchmark, scenario: Scenario) -> Simulation:
    """Three rounds of simulating ``scenario`` (seed 1), each on a fresh Simulation."""

    def setup():
        return (Simulation(scenario, 1),), {}

    def simulate(simulation: Simulation) -> Simulation:
        simulation.run()
        return simulation

    return benchmark.pedantic(simulate, setup=setup, rounds=3, iterations=1)


@pytest.mark.parametrize("backends", [10, 1_000, 10_000])
@pytest.mark.parametrize("strategy", ["round_robin", "p2c", "peak_ewma"])
def test_sim_event_rate(benchmark, strategy, backends):
    fleet = synthetic_fleet(backends, slow_fraction=0.05)
    rate = rate_for_utilization(fleet, 0.7)
    scenario = Scenario(
        name="bench",
        profile=fleet,
        strategy=strategy,
        load=LoadSpec(rate=rate, duration_s=REQUESTS / rate),
    )

    simulation = measure(benchmark, scenario)
    benchmark.extra_info["events"] = simulation.events
    benchmark.extra_info["requests"] = simulation.recorder.sent
    assert simulation.recorder.sent > 0.95 * REQUESTS


@pytest.mark.parametrize("failover", [("fail_fast",), ("eject", "retry")])
@pytest.mark.parametrize("balancers", [1, 10, 100])
def test_sim_event_rate_with_many_balancers(benchmark, balancers, failover):
    """The same 20 000 requests over 1 000 backends, routed by 1, 10 or 100 balancers:
    what many balancers cost is their own state (100 x 1 000 backend views) and the
    heartbeats every balancer hears from every backend (eject), not their number times
    one balancer's work. Compare the rows of one run (docs/simulator.md)."""
    fleet = synthetic_fleet(1_000, slow_fraction=0.05)
    rate = rate_for_utilization(fleet, 0.7)
    scenario = Scenario(
        name="bench",
        profile=fleet,
        strategy="p2c",
        failover=failover,
        load=LoadSpec(rate=rate, duration_s=REQUESTS / rate),
        balancers=balancers,
    )

    simulation = measure(benchmark, scenario)
    benchmark.extra_info["events"] = simulation.events
    assert simulation.recorder.sent > 0.95 * REQUESTS
