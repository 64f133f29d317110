"""The rig's own latency: the same load through the same rig to targets of known work.

Before its trials, each live scenario runs a short calibration: the same
fleet (ids, weights, tiers), strategy, settings and load (rate, arrivals,
shape, payload), for ``CALIBRATION_S`` seconds, with every target's
service time exactly ``CALIBRATION_WORK_MS``, no queue (capacity
unbounded) and no faults. A request's latency less that known work is
what the harness adds to it at this rate: the generator, the sockets, the
balancer's Python, the targets' timers and event loops, the scheduler.
It is reported beside the results (``rig_latency`` in each scenario), so
a reader sees which part of a p50 or a p99 is the harness and which the
strategy's; ``lbbench sim --against`` replays with it instead of a
constant fitted after the fact.

Why some work and not none: a target with nothing to do answers from the
same wake-up that brought the request, while a real one answers later
from a timer, after the processes on the reply path (and, in a virtual
machine, the idle CPUs) went to sleep. Measured on this project's 2-core
VM: a target's timer wakes 45 us late on average, which zero-work
targets never showed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lbbench.core.latency import Latency
from lbbench.scenario.scenario import Scenario

CALIBRATION_S = 1.0
# Long enough for the reply path to have gone idle; short enough that the
# calibration's requests in flight stay few.
CALIBRATION_WORK_MS = 1.0
KNOWN_WORK = Latency("fixed", (("ms", CALIBRATION_WORK_MS),))
UNBOUNDED = 1_000_000  # capacity: no request waits for another


def calibration_scenario(scenario: Scenario) -> Scenario:
    """``scenario`` with a known fixed service time, no queueing, no faults and a short load."""
    profile = scenario.profile
    targets = tuple(
        dataclasses.replace(t, latency=KNOWN_WORK, capacity=UNBOUNDED) for t in profile.targets
    )
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
    """What a scenario's result says of its calibration trial: latencies less the known work."""
    latency = trial["latency_ms"]["corrected"]
    return {
        "duration_s": trial["generator"]["elapsed_s"],
        "requests": trial["requests"]["sent"],
        "work_ms": CALIBRATION_WORK_MS,
        "latency_ms": {
            name: max(0.0, value - CALIBRATION_WORK_MS) for name, value in latency.items()
        },
        "valid": trial["valid"],
        "problems": trial["problems"],
    }
