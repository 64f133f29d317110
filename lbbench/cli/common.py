"""What several commands share: flags that describe routing, strategy options, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from lbbench.core.config import FailoverConfig, RouterConfig, parse_failover
from lbbench.errors import ConfigError

EXIT_USAGE = 2

# A spec's field path -> the flag a user typed it with, so that an error
# names what the user can fix on the command line.
LOAD_FLAGS = {
    "load.rate": "--rate",
    "load.duration_s": "--duration",
    "load.arrival": "--arrival",
    "load.shape": "--shape",
    "load.mode": "--mode",
    "load.clients": "--clients",
    "load.keys": "--keys",
    "load.processes": "--processes",
}


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"lbbench: error: {message}\n")


@contextlib.contextmanager
def as_flags(flags: Mapping[str, str]) -> Iterator[None]:
    """Re-label a ConfigError about a field with the flag that set it."""
    try:
        yield
    except ConfigError as error:
        if error.where in flags:
            raise ConfigError(flags[error.where], error.message) from None
        raise


def parse_options(pairs: list[str]) -> dict[str, Any]:
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


def add_routing(parser: argparse.ArgumentParser) -> None:
    """--strategy, --failover, --option, --deadline, --max-pending."""
    parser.add_argument("--strategy", default="round_robin", help="see `lbbench list`")
    parser.add_argument(
        "--failover", default="fail_fast", help="modes, comma separated (see `lbbench list`)"
    )
    parser.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="strategy option, repeatable"
    )
    parser.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    parser.add_argument("--max-pending", type=int, default=10_000, help="then: overloaded")


def router_config(args: argparse.Namespace) -> RouterConfig:
    """The router's configuration from the routing flags."""
    return RouterConfig(
        strategy=args.strategy,
        strategy_options=parse_options(args.option or []),
        failover=FailoverConfig(modes=parse_failover(args.failover)),
        deadline_s=args.deadline,
        max_pending=args.max_pending,
    )


def scenarios_from_flags(
    args: argparse.Namespace, profile: Any, load: Any, strategies: list[str]
) -> list[Any]:
    """One scenario per strategy from --failover, --option, --seed, --trials, --deadline."""
    from lbbench.scenario.scenario import Scenario

    modes = parse_failover(args.failover or "fail_fast")
    options = tuple(sorted(parse_options(args.option or []).items()))
    return [
        Scenario(
            name=f"{strategy} {'+'.join(modes)} on {profile.name}",
            profile=profile,
            strategy=strategy,
            failover=modes,
            load=load,
            strategy_options=options,
            seed=args.seed,
            trials=args.trials,
            deadline_s=args.deadline,
        )
        for strategy in strategies
    ]
