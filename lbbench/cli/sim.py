"""``lbbench sim``: simulate a suite or scenarios, or validate the simulator."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

from lbbench.checks import check_number
from lbbench.cli.common import as_flags
from lbbench.cli.plan import Plan, suite_name, suite_plan
from lbbench.cli.run import add_scenario_arguments, add_suite_arguments, single_plan
from lbbench.core.latency import parse_latency
from lbbench.errors import ConfigError
from lbbench.scenario.fleets import synthetic_fleet
from lbbench.scenario.profiles import load_profile
from lbbench.sim.options import SimOptions
from lbbench.sim.validate import Check

# The flags that describe the scenarios to simulate (refused with a suite); defaults None.
SINGLE = {
    "targets": "--targets",
    "backends": "--backends",
    "slow_fraction": "--slow-fraction",
    "slow_factor": "--slow-factor",
    "capacity": "--capacity",
    "latency": "--latency",
    "strategy": "--strategy",
    "balancer": "--balancer",
    "balancers": "--balancers",
    "failover": "--failover",
    "option": "--option",
    "rate": "--rate",
    "utilization": "--utilization",
    "requests": "--requests",
    "arrival": "--arrival",
    "shape": "--shape",
    "keys": "--keys",
    "deadline": "--deadline",
}


def add_parser(commands: Any) -> None:
    """The ``sim`` subcommand."""
    sim = commands.add_parser(
        "sim", help="simulate scenarios at any scale (same router, strategies and faults)"
    )
    add_suite_arguments(sim)
    one = sim.add_argument_group("scenarios from flags (instead of a suite)")
    one.add_argument("--targets", help="fleet profile (a shipped name or a .toml path)")
    one.add_argument("--backends", type=int, help="a synthetic fleet of this many backends")
    one.add_argument("--slow-fraction", type=float, help="synthetic: share slow (default 0)")
    one.add_argument("--slow-factor", type=float, help="synthetic: how much slower (default 10)")
    one.add_argument("--capacity", type=int, help="synthetic: requests served at once (default 4)")
    one.add_argument(
        "--latency",
        help="synthetic: service time, e.g. exponential:mean_ms=2 (the default) "
        "or lognormal:median_ms=8,sigma=1",
    )
    add_scenario_arguments(one, "strategies, comma separated: one scenario each")
    one.add_argument("--requests", type=int, help="requests per trial (sets the duration)")
    sim.add_argument(
        "--hop-us",
        type=float,
        help=f"one-way delay of each of the 4 hops, microseconds (default "
        f"{SimOptions.hop_s * 1e6:g}; with --against: fitted to the live rig)",
    )
    sim.add_argument(
        "--restart-s",
        type=float,
        default=SimOptions.restart_s,
        help="time a crashed target takes to come back",
    )
    sim.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="simulate that many scenarios at once, each in a process of its own "
        "(default: one per CPU; the results do not depend on it)",
    )
    sim.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="simulate the scenarios on the workers of this Dask cluster (its scheduler, "
        "e.g. tcp://10.0.0.5:8786; needs lbbench[cluster]), not on local processes",
    )
    sim.add_argument(
        "--validate",
        action="store_true",
        help="check the simulator against M/M/1, M/M/c (Erlang C) and balls into bins",
    )
    sim.add_argument(
        "--against",
        metavar="LIVE.json",
        help="with --validate: also replay this live result set and check the agreement",
    )
    sim.set_defaults(func=_sim)


def _latency(text: str):
    dist, _, rest = text.partition(":")
    table: dict[str, Any] = {"dist": dist}
    for pair in filter(None, rest.split(",")):
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError("--latency", f"expected name=value, got {pair!r}")
        try:
            table[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--latency {name.strip()}", f"not a number: {value!r}") from None
    return parse_latency(table, "--latency")


def sim_options(args: argparse.Namespace) -> SimOptions:
    if args.hop_us is None:
        return SimOptions(restart_s=args.restart_s)
    check_number("--hop-us", args.hop_us, low=0.0)
    return SimOptions(hop_s=args.hop_us / 1e6, restart_s=args.restart_s)


def plan_from_args(args: argparse.Namespace) -> Plan:
    """What to simulate: a suite, or one scenario per strategy from the flags."""
    name = suite_name(args)
    flags = [flag for key, flag in SINGLE.items() if getattr(args, key) is not None]
    if name is not None or not flags:
        return suite_plan(args, name or "default", SINGLE, simulated=True)
    if args.backends is not None and args.targets:
        raise ConfigError("--backends", "a synthetic fleet or --targets, not both")
    if args.requests is not None and args.duration is not None:
        raise ConfigError("--requests", "sets the duration: give it or --duration, not both")
    if args.backends is not None:
        flags_of = {"backends": "--backends", "capacity": "--capacity"}
        flags_of |= {"slow_fraction": "--slow-fraction", "slow_factor": "--slow-factor"}
        with as_flags(flags_of):
            profile = synthetic_fleet(
                args.backends,
                capacity=args.capacity if args.capacity is not None else 4,
                latency=_latency(args.latency or "exponential:mean_ms=2"),
                slow_fraction=args.slow_fraction or 0.0,
                slow_factor=args.slow_factor if args.slow_factor is not None else 10.0,
            )
    else:
        synthetic = [f for f in ("--slow-fraction", "--slow-factor", "--capacity", "--latency")
                     if f in flags]  # fmt: skip
        if synthetic:
            raise ConfigError(synthetic[0], "describes a synthetic fleet: goes with --backends")
        profile = load_profile(args.targets or "heterogeneous")
    strategies = [s.strip() for s in (args.strategy or "round_robin").split(",") if s.strip()]
    if not strategies:
        raise ConfigError("--strategy", "names no strategy")
    return single_plan(args, strategies, "sim", profile)


def _sim(args: argparse.Namespace) -> int:
    from lbbench.cli.execute import execute
    from lbbench.sim.rig import SimRig

    settings = sim_options(args)
    if args.validate:
        return _validate(args, settings)
    if args.against:
        raise ConfigError("--against", "goes with --validate")
    if args.workers < 1:
        raise ConfigError("--workers", f"must be >= 1, got {args.workers}")
    plan = plan_from_args(args)
    plan.config = {"simulated": True, "simulator": dataclasses.asdict(settings), **plan.config}
    return execute(plan, SimRig(settings), args)


def checks_table(checks: list[Check], title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in ("check", "expected", "measured", "error", "rule", "verdict"):
        table.add_column(header, justify="left" if header in ("check", "rule") else "right")
    for check in checks:
        table.add_row(
            check.name,
            f"{check.expected:.4g} {check.unit}",
            f"{check.measured:.4g} {check.unit}",
            f"{check.error:+.1%}",
            check.rule,
            "pass" if check.passed else "[bold red]FAIL[/]",
        )
    return table


def _validate(args: argparse.Namespace, settings: SimOptions) -> int:
    from rich.console import Console

    from lbbench.sim.validate import theory_checks

    if args.against:
        from lbbench.results.files import read_result

        against = read_result(args.against)  # a bad file fails before minutes of checks
    console = Console(width=None if sys.stdout.isatty() else 160)
    requests = args.requests if args.requests is not None else 500_000
    checks = theory_checks(requests=requests, seed=args.seed if args.seed is not None else 1)
    console.print(checks_table(checks, f"simulator against theory ({requests} requests a queue)"))
    failed = sum(not c.passed for c in checks)
    if args.against:
        from lbbench.sim.live import agreement, fit_hop, live_entries, measured_hop, replay

        live = live_entries(against, args.against)
        hops = [measured_hop(entry) for entry in live]
        calibrated = args.hop_us is None and all(hop is not None for hop in hops)
        if calibrated:
            listed = ", ".join(
                f"{hop[0] * 1e6:.0f} ({'its trials' if hop[1] == 'trials' else 'calibration'})"
                for hop in hops
                if hop is not None
            )
            how = f"hop per scenario, the rig's own latency measured: {listed} us"
        elif args.hop_us is None:
            settings = dataclasses.replace(settings, hop_s=fit_hop(live, args.against, settings))
            how = f"hop {settings.hop_s * 1e6:.0f} us, fitted to the live p50s (no rig calibration)"
        else:
            how = f"hop {settings.hop_s * 1e6:.0f} us (--hop-us)"
        console.print(how)
        simulated = replay(live, args.against, settings, calibrated=calibrated)
        path = _write_simulated(simulated, args, settings)
        replayed = agreement(live, simulated)
        title = f"live {args.against} against simulated {path}; {how}"
        console.print(checks_table(replayed, title))
        failed += sum(not c.passed for c in replayed)
    console.print(f"{failed} check(s) failed" if failed else "every check passed")
    return 1 if failed else 0


def _write_simulated(scenarios: list[dict[str, Any]], args: argparse.Namespace, settings) -> str:
    from lbbench.results.files import new_result_set, save_result

    config = {
        "simulated": True,
        "simulator": dataclasses.asdict(settings),
        "replay_of": args.against,
    }
    return str(save_result(new_result_set("sim-replay", config, scenarios), args.out))
