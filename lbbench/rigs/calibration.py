"""The rig's own latency: the same load through the same rig to targets of known work,
and, where it can be told apart, measured in the trial itself.

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

The calibration runs on processes of its own, started fresh; a trial's
processes share the machine's two cores differently, and their own latency
differs from the calibration's by more than the 5 % that live and simulated
are compared to (measured here with four balancers: calibrations of one
rig from 0.60 to 0.92 ms mean). So each trial also measures it
(``in_trial_overhead``): each target tallies the time the requests it
answered spent in it by the model (from taking one to its scheduled end),
and where every request was one attempt answered ok, the clients' mean
latency less the targets' mean residence is the rig's own, in that trial.

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
from lbbench.results.recorder import Recorder
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


def in_trial_overhead(
    recorder: Recorder, attempts: int, tally: tuple[int, float] | None
) -> dict[str, Any]:
    """The rig's own mean latency in a trial: the clients' mean less the targets' mean
    residence, when they measured the same requests; else None, and why not.

    ``attempts``: what the balancers sent to targets; ``tally``: (requests the
    targets answered for the balancers, the seconds those spent in them), None
    when a target process could not say (``lbbench target --tally``).
    """
    sent = recorder.sent
    why = None
    if tally is None:
        why = "a target process did not report what it answered"
    elif recorder.outcomes.get("ok", 0) != sent or recorder.lost:
        why = "not every request was answered ok"
    elif attempts != sent:
        why = "requests took other than one attempt each (retries, hedges, none)"
    elif tally[0] != sent:
        why = f"the targets tallied {tally[0]} answers of {sent} requests (one crashed?)"
    if why is not None or tally is None or not sent:
        return {"mean_ms": None, "why": why or "no request"}
    clients_ms = recorder.corrected.get_mean_value() / 1e3
    targets_ms = tally[1] / tally[0] * 1e3
    return {"mean_ms": clients_ms - targets_ms, "residence_ms": targets_ms, "requests": sent}
