"""What every rig is: one small protocol, the loop that drives live load and faults,
and the run of a scenario's trials.

A rig runs trials of a scenario and returns each one's result in the one
shape of ``lbbench.results.trial``. Three implement it: the live ZeroMQ
rig (``lbbench.rigs.live``), the gRPC rig (``lbbench.rpc.rig``) and the
simulator (``lbbench.sim.rig``); ``lbbench run``, ``lbbench sim`` and the
replay of a live run in the simulator take any of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from lbbench.core.faults import Fault
from lbbench.results.trial import RouterView, lean_trial, scenario_entry, trial_result
from lbbench.rigs.process import RigError
from lbbench.scenario.scenario import Scenario

SAMPLE_EVERY_S = 0.05

Progress = Callable[[float], None]


class Rig(Protocol):
    """Runs trials of scenarios; ``simulated`` says whether time was real."""

    simulated: bool

    def check(self, scenario: Scenario) -> None:
        """Raise a ConfigError if this rig cannot run ``scenario`` (before anything starts)."""

    def run_trial(
        self, scenario: Scenario, index: int, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Trial ``index`` (seed ``scenario.seed + index``); its result."""

    def calibrate(self, scenario: Scenario) -> dict[str, Any] | None:
        """The rig's own latency under ``scenario``'s load (``lbbench.rigs.calibration``),
        or None where there is no rig to measure (the simulator)."""


class FaultedFleet(Protocol):
    """Live processes the drive loop injects faults into and watches.

    ``failure`` names a death the trial cannot go on without (the balancer
    exited unplanned); ``check_processes`` sets it, and the drive loop then
    ends the trial at once.
    """

    planned_exits: set[str]
    failure: str | None

    def inject(self, fault: Fault) -> None: ...

    def end(self, fault: Fault) -> None: ...

    def check_processes(self, elapsed: float) -> None: ...


class Generator(Protocol):
    start_at: float
    processes: list[Any]

    def wait(self, timeout_s: float) -> Any: ...

    def failed(self) -> str | None: ...

    def stop_early(self) -> None: ...


def drive(
    scenario: Scenario,
    fleet: FaultedFleet,
    generator: Generator,
    progress: Progress | None,
    sample: Callable[[], None] | None = None,
) -> tuple[Any, str | None]:
    """Run the load to its end: faults on schedule (``fleet.inject``/``fleet.end``),
    ``sample()`` every SAMPLE_EVERY_S, unplanned exits noted; the generator's report
    and the rig failure that ended the load early, if one did.

    A rig failure (the balancer or a generator process died) stops the
    load at once rather than measuring a dead rig for the rest of the
    trial: the generators report what they have, their requests in flight
    counted, and the trial is marked invalid by the caller.
    """
    load = scenario.load
    start = generator.start_at
    schedule: list[tuple[float, str, Fault]] = []
    for fault in scenario.profile.faults:
        schedule.append((start + fault.at_s, "start", fault))
        if fault.end_s is not None:
            schedule.append((start + fault.end_s, "end", fault))
    schedule.sort(key=lambda item: item[0])
    give_up = start + load.duration_s + load.drain_s + 15.0
    next_sample = start
    failure: str | None = None
    while time.monotonic() < give_up:
        now = time.monotonic()
        failure = failure or _at(generator.failed(), now - start)
        if failure is not None or all(p.poll() is not None for p in generator.processes):
            break
        while schedule and schedule[0][0] <= now:
            _, what, fault = schedule.pop(0)
            (fleet.inject if what == "start" else fleet.end)(fault)
        if sample is not None and next_sample <= now <= start + load.duration_s + load.drain_s:
            sample()
            next_sample += SAMPLE_EVERY_S
        fleet.check_processes(now - start)
        failure = fleet.failure
        if failure is not None:
            break
        if progress is not None:
            progress(min(1.0, max(0.0, (now - start) / load.duration_s)))
        time.sleep(0.01)  # sleep-ok: the loop's tick while the generators run
    if failure is not None:
        generator.stop_early()
    report = generator.wait(timeout_s=10.0)
    for _, what, fault in schedule:  # faults still due after the load ended
        if what == "end" and fault.kind == "crash":
            fleet.planned_exits.add(fault.target)
    fleet.check_processes(time.monotonic() - start)
    return report, failure


def _at(failure: str | None, elapsed: float) -> str | None:
    return None if failure is None else f"{failure} at {elapsed:.2f} s"


def failed_trial(scenario: Scenario, index: int, error: RigError) -> dict[str, Any]:
    """The result of a trial whose rig could not even start (or broke past use):
    invalid, nothing measured, the reason kept."""
    from lbbench.results.recorder import Recorder
    from lbbench.rigs.loadgen import GeneratorReport

    report = GeneratorReport(Recorder(), 0.0, 0.0, 0.0, [])
    seed = scenario.seed + index
    view = RouterView(attempts={})
    return trial_result(scenario, seed, 0.0, report, view, [], [], [], failure=str(error))


def run_scenario(
    scenario: Scenario,
    rig: Rig,
    progress: Callable[[int, float], None] | None = None,
    lean: bool = False,
) -> dict[str, Any]:
    """All trials of one scenario on ``rig``; its entry in a result set (``lean``: its
    trials without their timelines, events and per-backend rows, ``lean_trial``)."""
    scenario.validate()
    rig.check(scenario)
    rig_latency = rig.calibrate(scenario)
    trials = []
    for index in range(scenario.trials):
        tick = (lambda f, i=index: progress(i, f)) if progress else None
        try:
            trials.append(rig.run_trial(scenario, index, tick))
        except RigError as error:  # this trial is lost; the run goes on to the next
            trials.append(failed_trial(scenario, index, error))
    entry = scenario_entry(scenario, trials, simulated=rig.simulated, rig_latency=rig_latency)
    if lean:
        entry["trials"] = [lean_trial(t) for t in entry["trials"]]
    return entry
