"""What several commands share: flags that describe routing, strategy options, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from lbbench.core.config import FailoverConfig, RouterConfig, parse_failover
from lbbench.core.settings import apply_settings
from lbbench.errors import ConfigError

EXIT_LOST = 1  # a request got no outcome (sent != outcomes) in a trial whose rig held up
EXIT_USAGE = 2  # bad input: flags, configuration, files
EXIT_INVALID = 3  # a judgement refused: invalid measurements, too few trials to rank
EXIT_RIG_FAILED = 4  # a rig process died mid-run: those trials are invalid, the rest saved

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


def parse_options(pairs: list[str], flag: str = "--option") -> dict[str, Any]:
    """``name=value`` pairs (``--option``, ``--set``); a value is read as TOML, else as text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(flag, f"expected name=value, got {pair!r}")
        try:
            options[name.strip()] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[name.strip()] = text.strip()
    return options


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """Router settings from ``--set PATH=VALUE`` (checked when the configuration is built)."""
    return parse_options(pairs, "--set")


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
    add_set(parser)


def add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="any router setting by its path, e.g. failover.retry.budget_ratio=0.2 "
        "(repeatable; `lbbench list` shows every path)",
    )


def router_config(args: argparse.Namespace) -> RouterConfig:
    """The router's configuration from the routing flags and ``--set``."""
    config = RouterConfig(
        strategy=args.strategy,
        strategy_options=parse_options(args.option or []),
        failover=FailoverConfig(modes=parse_failover(args.failover)),
        deadline_s=args.deadline,
        max_pending=args.max_pending,
    )
    return apply_settings(config, parse_settings(args.set or []))


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
            settings=tuple(parse_settings(args.set or []).items()),
        )
        for strategy in strategies
    ]
