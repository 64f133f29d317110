"""The rig's own latency: the same load through the same rig to targets that do no work.

Before its trials, each live scenario runs a short calibration: the same
fleet (ids, weights, tiers, capacities), strategy, settings and load
(rate, arrivals, shape, payload), for ``CALIBRATION_S`` seconds, with every
target's service time zero and no faults. What it measures is what the
harness adds to every request at this rate: the generator, the sockets,
the balancer's Python, the targets' event loops, the scheduler. It is
reported beside the results (``rig_latency`` in each scenario), so a
reader sees which part of a p50 or a p99 is the harness and which the
strategy's; ``lbbench sim --against`` replays with it instead of a
constant fitted after the fact.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lbbench.core.latency import Latency
from lbbench.scenario.scenario import Scenario

CALIBRATION_S = 1.0
NO_WORK = Latency("fixed", (("ms", 0.0),))


def calibration_scenario(scenario: Scenario) -> Scenario:
    """``scenario`` with zero service times, no faults and a short load."""
    profile = scenario.profile
    targets = tuple(dataclasses.replace(t, latency=NO_WORK) for t in profile.targets)
    return dataclasses.replace(
        scenario,
        name=f"{scenario.name} (rig calibration)",
        profile=dataclasses.replace(profile, targets=targets, faults=()),
        load=dataclasses.replace(
            scenario.load,
            duration_s=min(CALIBRATION_S, scenario.load.duration_s),
            drain_s=min(1.0, scenario.load.drain_s),
        ),
        trials=1,
    )


def rig_latency(trial: dict[str, Any]) -> dict[str, Any]:
    """What a scenario's result says of its calibration trial."""
    return {
        "duration_s": trial["generator"]["elapsed_s"],
        "requests": trial["requests"]["sent"],
        "latency_ms": trial["latency_ms"]["corrected"],
        "valid": trial["valid"],
        "problems": trial["problems"],
    }
