"""``lbbench run``: a suite (the default one with no options) or one scenario, on the live rig."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from lbbench.cli.common import LOAD_FLAGS, add_set, as_flags, scenarios_from_flags
from lbbench.errors import ConfigError


def add_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="run a suite (default) or one scenario on the live rig")
    run.add_argument("--suite", default="default", help="suite to run (default, smoke)")
    run.add_argument("--targets", help="fleet profile (a name in targets/ or a .toml path)")
    run.add_argument("--strategy", help="one strategy (runs a single scenario)")
    run.add_argument("--failover", help="failover modes, comma separated")
    run.add_argument("--option", action="append", metavar="NAME=VALUE", help="strategy option")
    add_set(run)
    run.add_argument("--rate", type=float, help="offered requests per second")
    run.add_argument("--arrival", default="poisson", help="poisson or constant")
    run.add_argument("--shape", default="flat", help="flat, step or ramp")
    run.add_argument("--mode", default="open", help="open (default) or closed loop")
    run.add_argument("--clients", type=int, default=16, help="closed loop: clients")
    run.add_argument("--keys", type=int, default=0, help="distinct routing keys (0: none)")
    run.add_argument("--processes", type=int, default=1, help="generator processes")
    run.add_argument("--duration", type=float, help="seconds of load per trial")
    run.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    run.add_argument("--trials", type=int, default=1, help="repeated trials per scenario")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--out", default="results", help="folder for the result set")
    run.add_argument("--json", action="store_true", help="print the result set, not the table")
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from lbbench.cli.execute import execute
    from lbbench.rigs.live import LiveRig
    from lbbench.scenario.load import LoadSpec
    from lbbench.scenario.profiles import load_profile
    from lbbench.scenario.suites import suite

    single = any(
        v is not None for v in (args.strategy, args.failover, args.targets, args.rate, args.set)
    )
    if args.trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {args.trials}")
    if single:
        profile = load_profile(args.targets or "heterogeneous")
        with as_flags(LOAD_FLAGS):
            load = LoadSpec(
                rate=args.rate if args.rate is not None else 1000.0,
                duration_s=args.duration if args.duration is not None else 5.0,
                arrival=args.arrival,
                shape=args.shape,
                mode=args.mode,
                clients=args.clients,
                keys=args.keys,
                processes=args.processes,
            )
        scenarios = scenarios_from_flags(args, profile, load, [args.strategy or "round_robin"])
        label = "single"
    else:
        scenarios = suite(args.suite, args.seed, args.trials)
        if args.duration is not None:
            with as_flags(LOAD_FLAGS):
                scenarios = [
                    dataclasses.replace(
                        s, load=dataclasses.replace(s.load, duration_s=args.duration)
                    )
                    for s in scenarios
                ]
        label = args.suite
    config = {"suite": None if single else args.suite, "seed": args.seed, "trials": args.trials}
    return execute(scenarios, LiveRig(), args, label, config)
