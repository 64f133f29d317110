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
from lbbench.results.trial import scenario_entry
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


class FaultedFleet(Protocol):
    """Live processes the drive loop injects faults into and watches."""

    planned_exits: set[str]

    def inject(self, fault: Fault) -> None: ...

    def end(self, fault: Fault) -> None: ...

    def check_processes(self, elapsed: float) -> None: ...


class Generator(Protocol):
    start_at: float
    processes: list[Any]

    def wait(self, timeout_s: float) -> Any: ...


def drive(
    scenario: Scenario,
    fleet: FaultedFleet,
    generator: Generator,
    progress: Progress | None,
    sample: Callable[[], None] | None = None,
) -> Any:
    """Run the load to its end: faults on schedule (``fleet.inject``/``fleet.end``),
    ``sample()`` every SAMPLE_EVERY_S, unplanned exits noted; the generator's report."""
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
    while time.monotonic() < give_up:
        now = time.monotonic()
        if all(p.poll() is not None for p in generator.processes):
            break
        while schedule and schedule[0][0] <= now:
            _, what, fault = schedule.pop(0)
            (fleet.inject if what == "start" else fleet.end)(fault)
        if sample is not None and next_sample <= now <= start + load.duration_s + load.drain_s:
            sample()
            next_sample += SAMPLE_EVERY_S
        fleet.check_processes(now - start)
        if progress is not None:
            progress(min(1.0, max(0.0, (now - start) / load.duration_s)))
        time.sleep(0.01)  # sleep-ok: the loop's tick while the generators run
    report = generator.wait(timeout_s=10.0)
    for _, what, fault in schedule:  # faults still due after the load ended
        if what == "end" and fault.kind == "crash":
            fleet.planned_exits.add(fault.target)
    fleet.check_processes(time.monotonic() - start)
    return report


def run_scenario(
    scenario: Scenario, rig: Rig, progress: Callable[[int, float], None] | None = None
) -> dict[str, Any]:
    """All trials of one scenario on ``rig``; its entry in a result set."""
    scenario.validate()
    rig.check(scenario)
    trials = []
    for index in range(scenario.trials):
        tick = (lambda f, i=index: progress(i, f)) if progress else None
        trials.append(rig.run_trial(scenario, index, tick))
    return scenario_entry(scenario, trials, simulated=rig.simulated)
