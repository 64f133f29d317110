"""A Locust run as an lbbench.run/1 result set, so ``lbbench compare`` takes it like any run.

Written by the master (or the single local process) when Locust quits,
from the merged recorder and the balancer's own counters and health
events. The scenario is keyed like the live runner's, with the load
recorded as what Locust did: a closed loop of N users, each paced at
``pacing_s``, at N / pacing_s requests per second offered at most.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from lbbench.core.latency import Latency
from lbbench.core.settings import every_setting
from lbbench.core.strategies import strategy_options
from lbbench.results.files import new_result_set, save_result
from lbbench.results.recorder import Recorder
from lbbench.results.trial import RouterView, scenario_entry, trial_result
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec, load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.swarm.control import Control

_UNKNOWN_LATENCY = Latency("fixed", (("ms", 0.0),))  # the fleet is measured, not modelled here


class LocustReport:
    """The generator part of a trial: what Locust's users recorded, merged."""

    def __init__(self, recorder: Recorder, users: int, pacing_s: float, elapsed_s: float) -> None:
        self.recorder = recorder
        self.problems: list[str] = []
        self.users = users
        self.pacing_s = pacing_s
        self.elapsed_s = elapsed_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "locust": True,
            "users": self.users,
            "pacing_s": self.pacing_s,
            "offered_rate": self.users / self.pacing_s if self.pacing_s else None,
            "achieved_rate": self.recorder.sent / self.elapsed_s if self.elapsed_s else 0.0,
            "elapsed_s": self.elapsed_s,
            "coordinated_omission": "corrected with HdrHistogram's expected interval = pacing_s",
            "valid": not self.problems,
            "problems": self.problems,
        }


def fleet_from_stats(stats: dict[str, Any], profile: str | None) -> FleetProfile:
    if profile:
        return load_profile(profile)
    targets = tuple(
        TargetSpec(b["id"], weight=b["weight"], tier=b["tier"], latency=_UNKNOWN_LATENCY)
        for b in stats["backends"]
    )
    return FleetProfile(f"locust-{len(targets)}", "the fleet the balancer knew", targets)


def write_locust_result(control: Control, recorder: Recorder, *, out: str, **run: Any) -> Path:
    """Write the run's result set under ``out`` (``run``: as ``locust_result_set`` takes)."""
    path = save_result(locust_result_set(control, recorder, **run), out)
    print(f"lbbench: Locust result set: {path}", file=sys.stderr)
    return path


def locust_result_set(
    control: Control,
    recorder: Recorder,
    *,
    started: float,
    users: int,
    pacing_s: float,
    profile: str | None,
    argv: list[str],
    run_time_s: float | None = None,
) -> dict[str, Any]:
    """The run so far as a result set, from the merged recorder and the balancer's counters.

    ``run_time_s`` is Locust's ``-t`` when given: the load's duration, which
    keys the scenario and divides the throughput (else the measured time)."""
    elapsed = max(1e-9, time.monotonic() - started)
    duration = float(run_time_s) if run_time_s else elapsed
    stats = control.ask({"cmd": "stats"})
    events = control.ask({"cmd": "events"})["events"]
    fleet = fleet_from_stats(stats, profile)
    in_force = stats.get("settings", {})  # the balancer's settings at the end of the run
    defaults = every_setting()
    balancer = stats.get("balancer", "lbbench")  # a proxy's control says which one it is
    through = "" if balancer == "lbbench" else f"{balancer} "
    scenario = Scenario(
        name=f"locust {through}{stats['strategy']} {stats['failover']} on {fleet.name}",
        profile=fleet,
        strategy=stats["strategy"],
        failover=tuple(stats["failover"].split("+")),
        strategy_options=tuple(
            (path.partition(".")[2], value)
            for path, value in in_force.items()
            if path.startswith("strategy_options.")
            and value != strategy_options(stats["strategy"]).get(path.partition(".")[2])
        ),
        deadline_s=in_force.get("deadline_s", 1.0),
        settings=tuple(
            (path, value)
            for path, value in in_force.items()
            if path in defaults
            and path not in ("strategy", "failover.modes", "deadline_s")
            and value != defaults[path]
        ),
        balancer=balancer,
        balancer_options=tuple(sorted(stats.get("balancer_options", {}).items())),
        load=LoadSpec(
            rate=max(users, 1) / pacing_s,
            duration_s=duration,
            mode="closed",
            clients=max(users, 1),
            drain_s=0.0,
        ),
    )
    report = LocustReport(recorder, users, pacing_s, elapsed)
    if recorder.sent != recorder.answered:
        report.problems.append(f"{recorder.sent - recorder.answered} requests without an outcome")
    # The balancer's clock is its own monotonic clock: events are shifted to the run's start.
    start = stats["now"] - elapsed
    view = RouterView.from_snapshot(stats)
    trial = trial_result(scenario, 0, start, report, view, events, [], report.problems)
    config = {"locust": True, "argv": argv, "users": users, "pacing_s": pacing_s}
    return new_result_set("locust", config, [scenario_entry(scenario, [trial])])
