"""Switching failover modes at run time, with requests in flight: nothing is stranded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lbbench.core.config import FailoverConfig
from lbbench.core.failover import FAILOVER
from lbbench.core.faults import Fault
from lbbench.core.latency import Latency
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec
from lbbench.scenario.scenario import Scenario
from lbbench.sim import Simulation
from lbbench.vocabulary import OUTCOMES

FLEET = FleetProfile(
    "four",
    "four targets, t1 slow and failing half its requests",
    tuple(
        TargetSpec(f"t{i}", latency=Latency("exponential", (("mean_ms", 5.0),))) for i in range(4)
    ),
    (
        Fault(0.0, "t1", "slow", None, (("factor", 20.0),)),
        Fault(0.0, "t1", "error_rate", None, (("p", 0.5),)),
    ),
)

ALL = ("primary_backup", "eject", "circuit_breaker", "hedge", "retry")
# from, to: every switch turns some mode off while its timers are still pending
SWITCHES = [
    (("hedge",), ("fail_fast",)),
    (("hedge", "retry"), ("retry",)),
    (("retry",), ("fail_fast",)),
    (("eject", "retry"), ("hedge",)),
    (("circuit_breaker",), ("eject",)),
    (ALL, ("fail_fast",)),
    (("fail_fast",), ALL),
    (("admission", "retry"), ("fail_fast",)),
    (("hedge",), ("admission", "eject")),
]


@pytest.mark.parametrize(("before", "after"), SWITCHES)
def test_every_request_is_answered_across_a_switch(before, after):
    scenario = Scenario(
        name="switch",
        profile=FLEET,
        strategy="p2c",
        failover=before,
        load=LoadSpec(rate=1500, duration_s=2.0),
    )
    simulation = Simulation(scenario, 1)
    simulation.run(until=1.0)
    assert simulation.router.pending > 0  # requests, and their timers, in flight
    router = simulation.router
    config = replace(router.config, failover=FailoverConfig(modes=after))
    simulation.carry_out(router.reconfigure(simulation.now, config))
    simulation.run()
    result = simulation.finish()
    requests = result["requests"]
    assert requests["lost"] == 0
    assert requests["sent"] == sum(requests[s] for s in OUTCOMES)
    assert [p.name for p in router.policies] == [m for m in FAILOVER if m in after]


def test_a_mode_kept_with_the_same_settings_keeps_its_state():
    scenario = Scenario(
        name="keep",
        profile=FLEET,
        strategy="round_robin",
        failover=("eject", "retry"),
        load=LoadSpec(rate=800, duration_s=2.0),
    )
    simulation = Simulation(scenario, 1)
    simulation.run(until=1.0)
    router = simulation.router
    eject = router.policy("eject")
    assert router.health_of(router.backends["t1"]) == "ejected"
    config = replace(router.config, failover=FailoverConfig(modes=("eject",)))
    simulation.carry_out(router.reconfigure(simulation.now, config))
    assert router.policy("eject") is eject
    assert router.health_of(router.backends["t1"]) == "ejected"
