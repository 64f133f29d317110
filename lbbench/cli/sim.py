"""``lbbench sim``: simulate a suite or scenarios, or validate the simulator."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from lbbench.checks import check_number
from lbbench.cli.common import LOAD_FLAGS, add_set, as_flags, scenarios_from_flags
from lbbench.core.latency import parse_latency
from lbbench.errors import ConfigError
from lbbench.scenario.fleets import rate_for_utilization, synthetic_fleet
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.sim.options import SimOptions
from lbbench.sim.study import SIM_SUITES, pivot
from lbbench.sim.validate import Check

SINGLE_FLAGS = (
    "strategy", "failover", "targets", "backends", "rate", "utilization", "requests", "set",
)  # fmt: skip


def add_parser(commands: Any) -> None:
    """The ``sim`` subcommand."""
    sim = commands.add_parser(
        "sim", help="simulate scenarios at any scale (same router, strategies and faults)"
    )
    sim.add_argument("--suite", default="default", help="suite to simulate (default, smoke, scale)")
    sim.add_argument("--targets", help="fleet profile (a name in targets/ or a .toml path)")
    sim.add_argument("--backends", type=int, help="a synthetic fleet of this many backends")
    sim.add_argument("--slow-fraction", type=float, default=0.0, help="synthetic: share slow")
    sim.add_argument("--slow-factor", type=float, default=10.0, help="synthetic: how much slower")
    sim.add_argument("--capacity", type=int, default=4, help="synthetic: requests served at once")
    sim.add_argument(
        "--latency",
        default="exponential:mean_ms=2",
        help="synthetic: service time, e.g. exponential:mean_ms=2 or lognormal:median_ms=8,sigma=1",
    )
    sim.add_argument("--strategy", help="strategies, comma separated: one scenario each")
    sim.add_argument("--failover", help="failover modes, comma separated")
    sim.add_argument("--option", action="append", metavar="NAME=VALUE", help="strategy option")
    add_set(sim)
    rate = sim.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=float, help="offered requests per second")
    rate.add_argument(
        "--utilization", type=float, help="offered load as a fraction of the fleet's capacity"
    )
    span = sim.add_mutually_exclusive_group()
    span.add_argument("--duration", type=float, help="seconds of load per trial")
    span.add_argument("--requests", type=int, help="requests per trial (sets the duration)")
    sim.add_argument("--arrival", default="poisson", help="poisson or constant")
    sim.add_argument("--shape", default="flat", help="flat, step or ramp")
    sim.add_argument("--keys", type=int, default=0, help="distinct routing keys (0: none)")
    sim.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    sim.add_argument("--trials", type=int, default=1, help="repeated trials per scenario")
    sim.add_argument("--seed", type=int, default=1, help="same seed: same arrivals and work")
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
    sim.add_argument("--out", default="results", help="folder for the result set")
    sim.add_argument("--json", action="store_true", help="print the result set, not the table")
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


def scenarios_from_args(args: argparse.Namespace) -> tuple[list[Scenario], str]:
    """The scenarios to simulate, and a label for the run id."""
    from lbbench.scenario.suites import SUITES, suite

    if args.trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {args.trials}")
    if args.backends is not None and args.targets:
        raise ConfigError("--backends", "a synthetic fleet or --targets, not both")
    if not any(getattr(args, flag) is not None for flag in SINGLE_FLAGS):
        if args.suite in SIM_SUITES:
            scenarios = SIM_SUITES[args.suite](seed=args.seed, trials=args.trials)
        elif args.suite in SUITES:
            scenarios = suite(args.suite, args.seed, args.trials)
        else:
            known = ", ".join([*SUITES, *SIM_SUITES])
            raise ConfigError("--suite", f"unknown suite {args.suite!r} (known: {known})")
        if args.duration is not None:
            scenarios = [
                dataclasses.replace(s, load=dataclasses.replace(s.load, duration_s=args.duration))
                for s in scenarios
            ]
        return scenarios, f"sim-{args.suite}"
    if args.backends is not None:
        profile = synthetic_fleet(
            args.backends,
            capacity=args.capacity,
            latency=_latency(args.latency),
            slow_fraction=args.slow_fraction,
            slow_factor=args.slow_factor,
        )
    else:
        profile = load_profile(args.targets or "heterogeneous")
    if args.utilization is not None:
        rate = rate_for_utilization(profile, args.utilization)
    else:
        rate = args.rate if args.rate is not None else 1000.0
    if args.requests is not None:
        if args.requests < 1:
            raise ConfigError("--requests", f"must be >= 1, got {args.requests}")
        duration = args.requests / rate
    else:
        duration = args.duration if args.duration is not None else 5.0
    with as_flags(LOAD_FLAGS):
        load = LoadSpec(
            rate=rate, duration_s=duration, arrival=args.arrival, shape=args.shape, keys=args.keys
        )
    strategies = [s.strip() for s in (args.strategy or "round_robin").split(",") if s.strip()]
    if not strategies:
        raise ConfigError("--strategy", "names no strategy")
    return scenarios_from_flags(args, profile, load, strategies), "sim"


def _sim(args: argparse.Namespace) -> int:
    from lbbench.cli.execute import execute
    from lbbench.sim.rig import SimRig

    settings = sim_options(args)
    if args.validate:
        return _validate(args, settings)
    if args.against:
        raise ConfigError("--against", "goes with --validate")
    scenarios, label = scenarios_from_args(args)
    config = {
        "simulated": True,
        "simulator": {k: v for k, v in dataclasses.asdict(settings).items()},
        "suite": args.suite if label == f"sim-{args.suite}" else None,
        "seed": args.seed,
        "trials": args.trials,
    }
    tables = [pivot] if label == "sim-scale" else []
    return execute(scenarios, SimRig(settings), args, label, config, tables=tables)


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

        read_result(args.against)  # a bad file fails before minutes of checks
    console = Console(width=None if sys.stdout.isatty() else 160)
    requests = args.requests if args.requests is not None else 500_000
    checks = theory_checks(requests=requests, seed=args.seed)
    console.print(checks_table(checks, f"simulator against theory ({requests} requests a queue)"))
    failed = sum(not c.passed for c in checks)
    if args.against:
        from lbbench.sim.live import agreement, fit_hop, simulate_entries

        if args.hop_us is None:
            settings = dataclasses.replace(settings, hop_s=fit_hop(args.against, settings))
            console.print(
                f"hop fitted to the live rig's median latency: {settings.hop_s * 1e6:.0f} us "
                "(pass --hop-us to fix it instead)"
            )
        live, simulated = simulate_entries(args.against, settings)
        path = _write_simulated(simulated, args, settings)
        replayed = agreement(live, simulated)
        title = f"live {args.against} against simulated {path}, hop {settings.hop_s * 1e6:.0f} us"
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
