"""The rig measures itself: each live scenario reports the rig's own latency under its load.

Before the trials, the same fleet, strategy and load run against targets
whose work is known and fixed, with no queue; each latency less that work
is the harness's share of every latency. Each trial also measures it
itself (the clients' latency less the time the targets held the requests).
The simulator's replay (``lbbench sim --validate --against``) takes its
hop delays from the trials' own, or else from the calibration.
"""

from __future__ import annotations

import dataclasses

import pytest

from lbbench.rigs.base import run_scenario
from lbbench.rigs.calibration import (
    CALIBRATION_S,
    CALIBRATION_WORK_MS,
    UNBOUNDED,
    calibration_scenario,
)
from lbbench.rigs.live import LiveRig
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.sim.live import measured_hop
from lbbench.sim.rig import SimRig

RATE = 300.0
ATTEMPTS = 3  # a shared machine's other work can make a calibration invalid; measure again


def _scenario() -> Scenario:
    return Scenario(
        name="p2c on one-slow",
        profile=load_profile("one-slow"),
        strategy="p2c",
        load=LoadSpec(rate=RATE, duration_s=2.0),
    )


def test_the_calibration_is_the_scenario_with_known_work_and_no_queue_or_faults():
    crashing = load_profile("crash-recover")
    scenario = dataclasses.replace(_scenario(), profile=crashing)
    calibration = calibration_scenario(scenario)
    assert calibration.profile.faults == ()
    assert [t.id for t in calibration.profile.targets] == [t.id for t in crashing.targets]
    for target in calibration.profile.targets:
        assert target.latency.dist == "fixed"
        assert target.latency.params == (("ms", CALIBRATION_WORK_MS),)
        assert target.capacity == UNBOUNDED
    assert calibration.load.rate == scenario.load.rate
    assert calibration.load.duration_s == CALIBRATION_S
    assert (calibration.strategy, calibration.seed) == (scenario.strategy, scenario.seed)


def test_a_live_scenario_reports_its_rigs_latency_and_a_simulated_one_none():
    for _ in range(ATTEMPTS):
        live = run_scenario(_scenario(), LiveRig())
        rig = live["rig_latency"]
        if rig["valid"]:
            break
        # only the machine's other work may make it invalid (MachineWatch names it)
        assert all("other work" in p or "behind" in p for p in rig["problems"]), rig["problems"]
    else:
        pytest.skip(f"the machine was too busy for a valid calibration: {rig['problems']}")
    # about a second of the scenario's rate went through the rig
    assert 0.8 * RATE * CALIBRATION_S <= rig["requests"] <= 1.2 * RATE * CALIBRATION_S
    assert rig["work_ms"] == CALIBRATION_WORK_MS
    latency = rig["latency_ms"]  # the known work taken off
    assert 0 < latency["p50"] <= latency["p99"]
    # the harness is a part of the scenario's latency, not all of it (2 ms service)
    assert latency["p50"] < live["summary"]["latency_ms"]["corrected"]["p50"]
    # the trial measured the rig's own latency too: its clients' mean less the time the
    # targets held the requests; the replay prefers it (same processes as the trial)
    (trial,) = live["trials"]
    own = trial["rig_overhead"]
    assert own.get("requests") == trial["requests"]["sent"], (own, trial["problems"])
    assert 0 < own["mean_ms"] < trial["latency_ms"]["corrected"]["mean"], own
    assert measured_hop(live) == (own["mean_ms"] / 4 / 1e3, "trials")
    untold = {**live, "trials": [{**trial, "rig_overhead": {"mean_ms": None, "why": "x"}}]}
    assert measured_hop(untold) == (latency["mean"] / 4 / 1e3, "calibration")
    simulated = run_scenario(_scenario(), SimRig())
    assert simulated["rig_latency"] is None
    assert measured_hop(simulated) is None
