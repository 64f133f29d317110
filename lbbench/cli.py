"""The ``lbbench`` command line: parse, build configuration, call one function.

User errors (bad flags, bad configuration) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

from lbbench import __version__
from lbbench.balancer import DEFAULT_BACKEND, DEFAULT_CONTROL, DEFAULT_FRONTEND
from lbbench.config import FAILOVER_MODES, FailoverConfig, RouterConfig, parse_failover
from lbbench.errors import ConfigError, LbbenchError
from lbbench.profiles import TargetSpec, load_profile
from lbbench.strategies import STRATEGIES, strategy_options

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"lbbench: error: {message}\n")


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    strategies = Table(title="Strategies (--strategy)", title_justify="left")
    strategies.add_column("name", style="bold")
    strategies.add_column("rule")
    strategies.add_column("options")
    for name in sorted(STRATEGIES):
        options = ", ".join(f"{k}={v}" for k, v in strategy_options(name).items())
        strategies.add_row(name, STRATEGIES[name].summary, options or "-")
    console.print(strategies)
    modes = Table(title="Failover modes (--failover, combine with commas)", title_justify="left")
    modes.add_column("name", style="bold")
    modes.add_column("what it does")
    for name, text in FAILOVER_MODES.items():
        modes.add_row(name, text)
    console.print(modes)
    return 0


def _router_config(args: argparse.Namespace) -> RouterConfig:
    modes = parse_failover(args.failover)
    options = _options(args.option or [])
    return RouterConfig(
        strategy=args.strategy,
        strategy_options=options,
        failover=FailoverConfig(modes=modes),
        deadline_s=args.deadline,
        max_pending=args.max_pending,
    )


def _options(pairs: list[str]) -> dict[str, Any]:
    """Strategy options from ``--option name=value`` (value parsed as TOML)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ConfigError("--option", f"expected name=value, got {pair!r}")
        try:
            options[name.strip()] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[name.strip()] = text.strip()
    return options


def _balancer(args: argparse.Namespace) -> int:
    from lbbench.balancer import Balancer, serve

    config = _router_config(args)
    known = {}
    if args.targets:
        profile = load_profile(args.targets)
        known = {t.id: t.backend() for t in profile.targets}
    balancer = Balancer(
        config,
        frontend=args.frontend,
        backend=args.backend,
        control=args.control or None,
        seed=args.seed,
        weights=known,
    )
    return serve(balancer, announce=args.announce)


def _target(args: argparse.Namespace) -> int:
    from lbbench.target import serve

    if args.targets:
        profile = load_profile(args.targets)
        spec = profile.target(args.id)
        schedule = tuple(f for f in profile.faults if f.target == args.id) if args.schedule else ()
    else:
        spec = TargetSpec(args.id)
        schedule = ()
    if args.capacity is not None:
        spec = dataclasses.replace(spec, capacity=args.capacity)
    backend = None if args.backend == "none" else args.backend
    if backend is None and not args.bind:
        raise ConfigError("--backend", "none needs --bind, or the target serves nobody")
    if not args.announce:
        where = f"balancer {backend}" if backend else "no balancer"
        direct = f", direct clients on {args.bind}" if args.bind else ""
        print(
            f"target {spec.id}: weight {spec.weight}, tier {spec.tier}, capacity {spec.capacity}, "
            f"latency {spec.latency.describe()}; {where}{direct}",
            file=sys.stderr,
            flush=True,
        )
    return serve(
        spec,
        backend,
        bind=args.bind,
        seed=args.seed,
        schedule=schedule,
        announce_to=sys.stdout if args.announce else None,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lbbench",
        description="Which RPC load-balancing strategy and failover mode should I run?",
    )
    parser.add_argument("--version", action="version", version=f"lbbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    show = commands.add_parser("list", help="show strategies and failover modes")
    show.set_defaults(func=_list)

    bal = commands.add_parser("balancer", help="run the ZeroMQ balancer under test")
    bal.add_argument("--frontend", default=DEFAULT_FRONTEND, help="client socket (ROUTER)")
    bal.add_argument("--backend", default=DEFAULT_BACKEND, help="target socket (ROUTER)")
    bal.add_argument("--control", default=DEFAULT_CONTROL, help="control/stats socket (REP)")
    _add_routing(bal)
    bal.add_argument("--targets", help="fleet profile: its weights and tiers win over READY")
    bal.add_argument("--seed", type=int, default=0)
    bal.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    bal.set_defaults(func=_balancer)

    tgt = commands.add_parser("target", help="run one mock target")
    tgt.add_argument("--id", default="t0", help="target id (its routing id)")
    tgt.add_argument(
        "--backend", default=DEFAULT_BACKEND, help="balancer backend address, or 'none'"
    )
    tgt.add_argument("--bind", help="also serve clients directly on this address")
    tgt.add_argument("--targets", help="fleet profile holding this target's settings")
    tgt.add_argument("--capacity", type=int, help="requests served at once")
    tgt.add_argument(
        "--schedule", action="store_true", help="apply the profile's faults for this target"
    )
    tgt.add_argument("--seed", type=int, default=0)
    tgt.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    tgt.set_defaults(func=_target)
    return parser


def _add_routing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", default="round_robin", help="see `lbbench list`")
    parser.add_argument(
        "--failover", default="fail_fast", help="modes, comma separated (see `lbbench list`)"
    )
    parser.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="strategy option, repeatable"
    )
    parser.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    parser.add_argument("--max-pending", type=int, default=10_000, help="then: overloaded")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except LbbenchError as error:
        print(f"lbbench: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
