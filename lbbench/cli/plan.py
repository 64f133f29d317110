"""What ``lbbench run`` and ``lbbench sim`` will run: a suite, or one scenario from flags.

A suite (a shipped name or a .toml file) says everything about its
scenarios; flags that would change one of them are refused, not dropped,
except the ones that apply to every scenario alike: ``--trials``,
``--seed``, ``--duration``, ``--set``, ``--out`` and ``--json``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from lbbench.cli.common import parse_settings
from lbbench.errors import ConfigError
from lbbench.scenario.scenario import Scenario
from lbbench.scenario.suite_file import MAX_SCENARIOS, Suite

WITH_A_SUITE = "--trials, --seed, --duration, --set, --only, --max-scenarios, --out, --json"


@dataclass
class Plan:
    scenarios: list[Scenario]
    label: str
    config: dict[str, Any] = field(default_factory=dict)
    suite: Suite | None = None


def suite_name(args: argparse.Namespace) -> str | None:
    """The suite asked for, by the positional argument or ``--suite`` (not both)."""
    if args.suite_file and args.suite:
        raise ConfigError(
            "--suite", f"give the suite once (got {args.suite_file} and {args.suite})"
        )
    return args.suite_file or args.suite


def given_flags(args: argparse.Namespace, flags: Mapping[str, str]) -> list[str]:
    """The single-scenario flags given on the command line (their defaults are None)."""
    return [flag for name, flag in flags.items() if getattr(args, name, None) is not None]


def suite_plan(
    args: argparse.Namespace, name: str, single: Mapping[str, str], *, simulated: bool
) -> Plan:
    """The plan for suite ``name``; ConfigError for a flag that cannot apply."""
    from lbbench.scenario.suite_file import read_suite
    from lbbench.scenario.suites import find_suite

    refused = given_flags(args, single)
    if refused:
        raise ConfigError(
            refused[0],
            f"does not apply to a suite, whose file says it (with a suite: {WITH_A_SUITE})",
        )
    path = find_suite(name)
    if args.trials is not None and args.trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {args.trials}")
    if args.max_scenarios is not None and args.max_scenarios < 1:
        raise ConfigError("--max-scenarios", f"must be >= 1, got {args.max_scenarios}")
    suite = read_suite(
        path,
        trials=args.trials,
        seed=args.seed,
        only=args.only or (),
        max_scenarios=args.max_scenarios or MAX_SCENARIOS,
    )
    check_references(suite)
    if suite.simulated_only and not simulated and not args.only:
        raise ConfigError(
            "--suite",
            f"{suite.name} is a simulator suite (simulated_only): run it with lbbench sim, "
            "or pick scenarios this machine can host with --only",
        )
    settings = parse_settings(args.set or [])
    chosen = only(suite.scenarios, args.only) if args.only else list(suite.scenarios)
    scenarios = [with_changes(s, settings, args.duration) for s in chosen]
    label = f"sim-{suite.name}" if simulated else suite.name
    config = {
        "suite": suite.name,
        "suite_file": str(path),
        "seed": args.seed,
        "trials": args.trials,
        "set": settings,
        "duration_s": args.duration,
        "only": args.only,
    }
    return Plan(scenarios, label, config, suite)


def only(scenarios: Sequence[Scenario], patterns: list[str]) -> list[Scenario]:
    """The scenarios whose name or group matches one of ``patterns`` (``*`` is a wildcard)."""
    chosen = [
        s
        for s in scenarios
        if any(fnmatchcase(s.name, p) or fnmatchcase(s.group, p) for p in patterns)
    ]
    if not chosen:
        known = "; ".join(s.name for s in scenarios)
        raise ConfigError(
            "--only", f"no scenario matches {', '.join(patterns)} (scenarios: {known})"
        )
    return chosen


def check_references(suite: Suite) -> None:
    """The suite's ``[rank] by``, ``[pivot] metric`` and ``[gate] fail_on`` name metrics
    that exist."""
    from lbbench.results.compare import parse_thresholds
    from lbbench.results.metrics import METRICS

    named = [("rank.by", name) for name in suite.rank_by]
    named += [("pivot.metric", name) for name in (suite.pivot.metrics if suite.pivot else ())]
    figures = suite.published.figures if suite.published else ()
    named += [(f"published.figure[{i}].metric", f.metric) for i, f in enumerate(figures)]
    if suite.winner_map is not None:
        named.append(("map.metric", suite.winner_map.metric))
    for key, name in named:
        if name not in METRICS:
            raise ConfigError(
                f"{suite.source}: {key}", f"unknown metric {name!r} (known: {', '.join(METRICS)})"
            )
    if suite.gate:
        parse_thresholds(suite.gate, f"{suite.source}: gate.fail_on")


def with_changes(
    scenario: Scenario, settings: Mapping[str, Any], duration_s: float | None
) -> Scenario:
    """``scenario`` with router settings by path (``--set``) and another duration."""
    if duration_s is not None:
        from lbbench.cli.common import LOAD_FLAGS, as_flags

        with as_flags(LOAD_FLAGS):
            load = dataclasses.replace(scenario.load, duration_s=duration_s)
        scenario = dataclasses.replace(scenario, load=load)
    if settings:
        scenario = scenario.with_settings(settings)
    return scenario
