"""``lbbench run``: a suite (the default one with no options) or one scenario, on the live rig."""

from __future__ import annotations

import argparse
from typing import Any

from lbbench.cli.common import (
    LOAD_FLAGS,
    add_balancer_flag,
    add_routing_flags,
    add_set,
    as_flags,
    scenarios_from_flags,
)
from lbbench.cli.plan import Plan, suite_name, suite_plan
from lbbench.errors import ConfigError
from lbbench.scenario.suite_file import MAX_SCENARIOS

# The flags that describe one scenario (refused with a suite); their defaults are None.
SINGLE = {
    "targets": "--targets",
    "strategy": "--strategy",
    "balancer": "--balancer",
    "balancers": "--balancers",
    "failover": "--failover",
    "option": "--option",
    "rate": "--rate",
    "utilization": "--utilization",
    "arrival": "--arrival",
    "shape": "--shape",
    "mode": "--mode",
    "clients": "--clients",
    "keys": "--keys",
    "processes": "--processes",
    "deadline": "--deadline",
}


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """SUITE / --suite, and the flags that apply to every scenario of a suite."""
    parser.add_argument(
        "suite_file",
        nargs="?",
        metavar="SUITE",
        help="a suite file (.toml) or a shipped suite's name (`lbbench list`); default: default",
    )
    parser.add_argument("--suite", help="the same as SUITE")
    parser.add_argument("--trials", type=int, help="repeated trials per scenario")
    parser.add_argument("--seed", type=int, help="same seed: same arrivals and work")
    parser.add_argument("--duration", type=float, help="seconds of load per trial")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only the suite's scenarios of this name or group (a * matches anything; "
        "repeatable)",
    )
    parser.add_argument(
        "--max-scenarios",
        type=int,
        metavar="N",
        help=f"run a suite whose matrices make more than {MAX_SCENARIOS:,} scenarios (refused "
        "otherwise, before any is made)",
    )
    add_set(parser)
    parser.add_argument("--out", default="results", help="folder for the result set")
    parser.add_argument("--json", action="store_true", help="print the result set, not the table")


def add_scenario_arguments(one: Any, strategy_help: str) -> None:
    """The flags that describe scenarios, shared by run and sim (their defaults are None)."""
    add_routing_flags(one, strategy_help)
    add_balancer_flag(one)
    one.add_argument(
        "--balancers",
        type=int,
        help="how many balancers share the fleet, each routing its own share of the "
        "requests and seeing only those (default 1; --set balancers_split=zipf to skew)",
    )
    rate = one.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=float, help="offered requests per second (default 1000)")
    rate.add_argument(
        "--utilization", type=float, help="offered load as a fraction of the fleet's capacity"
    )
    one.add_argument("--arrival", help="poisson (default) or constant")
    one.add_argument("--shape", help="flat (default), step or ramp")
    one.add_argument("--keys", type=int, help="distinct routing keys (default 0: none)")


def add_parser(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="run a suite (default: the default suite) or one scenario on the live rig"
    )
    add_suite_arguments(run)
    one = run.add_argument_group("one scenario (instead of a suite)")
    one.add_argument("--targets", help="fleet profile (a shipped name or a .toml path)")
    add_scenario_arguments(one, "the strategy (see `lbbench list`)")
    one.add_argument("--mode", help="open (default) or closed loop")
    one.add_argument("--clients", type=int, help="closed loop: clients (default 16)")
    one.add_argument("--processes", type=int, help="generator processes (default 1)")
    run.add_argument(
        "--curve",
        metavar="DIR",
        help="CurveZMQ on every socket of the rig, with the keys `lbbench keys DIR` made",
    )
    run.set_defaults(func=run_command)


def single_plan(args: argparse.Namespace, strategies: list[str], label: str, profile: Any) -> Plan:
    """One scenario per strategy from the single-scenario flags (defaults filled in)."""
    from lbbench.scenario.fleets import rate_for_utilization
    from lbbench.scenario.load import LoadSpec

    if args.trials is not None and args.trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {args.trials}")
    if args.only:
        raise ConfigError("--only", "picks scenarios of a suite, and none was given")
    rate = args.rate if args.rate is not None else 1000.0
    if getattr(args, "utilization", None) is not None:
        rate = rate_for_utilization(profile, args.utilization)
    duration = args.duration if args.duration is not None else 5.0
    if getattr(args, "requests", None) is not None:
        if args.requests < 1:
            raise ConfigError("--requests", f"must be >= 1, got {args.requests}")
        duration = args.requests / rate
    with as_flags(LOAD_FLAGS):
        load = LoadSpec(
            rate=rate,
            duration_s=duration,
            arrival=args.arrival or "poisson",
            shape=args.shape or "flat",
            mode=getattr(args, "mode", None) or "open",
            clients=getattr(args, "clients", None) or 16,
            keys=args.keys or 0,
            processes=getattr(args, "processes", None) or 1,
        )
    args.trials = args.trials or 1
    args.seed = args.seed if args.seed is not None else 1
    scenarios = scenarios_from_flags(args, profile, load, strategies)
    config = {"suite": None, "seed": args.seed, "trials": args.trials}
    return Plan(scenarios, label, config)


def run_command(args: argparse.Namespace) -> int:
    from lbbench.cli.execute import execute
    from lbbench.rigs.live import LiveRig
    from lbbench.scenario.profiles import load_profile

    name = suite_name(args)
    flags = [flag for key, flag in SINGLE.items() if getattr(args, key) is not None]
    if name is not None or not flags:
        plan = suite_plan(args, name or "default", SINGLE, simulated=False)
    else:
        profile = load_profile(args.targets or "heterogeneous")
        plan = single_plan(args, [args.strategy or "round_robin"], "single", profile)
    if args.curve:
        from lbbench.security import PeerKeys

        PeerKeys.from_folder(args.curve, "client")  # a bad folder fails before anything starts
        PeerKeys.from_folder(args.curve, "target")
    return execute(plan, LiveRig(curve=args.curve), args)
