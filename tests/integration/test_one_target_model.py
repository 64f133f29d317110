"""One target model: a timed fault ends the same way live and simulated.

The live rigs once ended a timed fault by sending ``recover``, which also
cleared an antagonist (another tenant's share of the machine), while the
simulator kept it: any suite with both on one target measured two
different experiments (issue 23). Now the rigs send the fault's
``end_command`` and the simulator applies that same command to the same
target model. Here one target runs 3.8x slower under an antagonist for the
whole run, and 2x slower again for one second in the middle; live and the
simulator's replay of the live run must agree on the mean and the p50 (a
target that lost its antagonist when the slow fault ended would be 3.8x
faster live for half the run).
"""

from __future__ import annotations

import pytest

from lbbench.core.faults import Fault
from lbbench.core.latency import Latency
from lbbench.results.files import new_result_set, save_result
from lbbench.rigs.base import run_scenario
from lbbench.rigs.live import LiveRig
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec, load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.sim import SimOptions
from lbbench.sim.live import agreement, simulate_entries  # (its checks: live vs simulated)

ATTEMPTS = 3  # a busy shared machine can make a live run invalid; measure again
# seed 17: the antagonist takes 0.74 of the machine for the whole run (x3.85)
ANTAGONIST = (("share_max", 0.9), ("dwell_s", 100.0), ("seed", 17))


def test_a_timed_fault_on_a_target_with_an_antagonist_ends_alike_live_and_simulated(tmp_path):
    fleet = FleetProfile(
        name="antagonist-and-slow",
        description="one target, an antagonist all along, 2x slower from 1 s for 1 s",
        targets=(TargetSpec("t0", capacity=1, latency=Latency("fixed", (("ms", 2.0),))),),
        faults=(
            Fault(at_s=0.0, target="t0", kind="antagonist", params=ANTAGONIST),
            Fault(at_s=1.0, target="t0", kind="slow", duration_s=1.0, params=(("factor", 2.0),)),
        ),
    )
    profile = tmp_path / "antagonist-and-slow.toml"  # the result names it; the replay reads it
    profile.write_text(fleet.to_toml())
    scenario = Scenario(
        name="antagonist then a timed slow fault",
        profile=load_profile(str(profile)),
        strategy="round_robin",
        load=LoadSpec(rate=40.0, duration_s=4.0, arrival="constant", drain_s=1.0),
    )
    for _ in range(ATTEMPTS):
        live = run_scenario(scenario, LiveRig())
        if live["valid"]:
            break
    else:  # as test_live_vs_sim: a measurement the machine's other work spoiled says so
        pytest.skip(f"the machine was too busy for a valid live run: {live['problems']}")
    path = save_result(new_result_set("live", {}, [live]), tmp_path)
    live_entries, simulated = simulate_entries(str(path), SimOptions(), calibrated=True)
    checks = {check.name: check for check in agreement(live_entries, simulated)}
    for statistic in ("mean", "p50"):
        check = checks[f"{scenario.name}: {statistic}"]
        # Within 15 %: the drift this guards against put them 34 % apart (live mean 8.07
        # ms, simulated 10.85), while a busy CI machine moves a live p50 by 5 % now and
        # then (seen: 9.93 against 9.42 simulated), which lbbench's 5 % rule would fail.
        assert abs(check.measured - check.expected) <= 0.15 * check.expected, check
    # and the antagonist was there at the end: the p50 is the antagonist's, not 2 ms
    assert live["summary"]["latency_ms"]["corrected"]["p50"] > 2 * 3.0
