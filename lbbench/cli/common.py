"""What several commands share: flags that describe routing, strategy options, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import json
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from lbbench.core.config import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MODES,
    DEFAULT_STRATEGY,
    FailoverConfig,
    RouterConfig,
    parse_failover,
)
from lbbench.core.settings import apply_settings, config_from_settings, scenario_fields
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


ROUTING_FLAGS = {
    "strategy": "--strategy",
    "failover": "--failover",
    "option": "--option",
    "deadline": "--deadline",
    "max_pending": "--max-pending",
    "set": "--set",
}


def add_routing_flags(parser: Any, strategy_help: str = "see `lbbench list`") -> None:
    """--strategy, --failover, --option, --deadline: the one definition of the flags that
    name a scenario's routing (run, sim, locust, balancer); defaults None, filled from
    core.config where they are read."""
    parser.add_argument("--strategy", help=f"{strategy_help} (default {DEFAULT_STRATEGY})")
    parser.add_argument(
        "--failover",
        help=f"modes, comma separated (see `lbbench list`; default {'+'.join(DEFAULT_MODES)})",
    )
    parser.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="strategy option, repeatable"
    )
    parser.add_argument(
        "--deadline", type=float, help=f"request deadline, seconds (default {DEFAULT_DEADLINE_S:g})"
    )


def add_balancer_flag(parser: Any) -> None:
    """--balancer: what balances the calls (run, sim, locust)."""
    from lbbench.scenario.scenario import BALANCERS

    parser.add_argument(
        "--balancer",
        help=f"{', '.join(BALANCERS)}: lbbench's own (default), grpcio's client policies, or "
        "a real proxy configured from the same strategy and failover (docs/proxies.md)",
    )


def add_routing(parser: argparse.ArgumentParser) -> None:
    """The balancer's: the routing flags, --max-pending, --set and --settings-json."""
    add_routing_flags(parser)
    parser.add_argument("--max-pending", type=int, help="then: overloaded (default 10000)")
    add_set(parser)
    parser.add_argument(
        "--settings-json",
        metavar="JSON",
        help="every router setting as one JSON object by path (what a result file records "
        "as router_settings); instead of the flags above",
    )


def add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="any router setting by its path, e.g. failover.retry.budget_ratio=0.2 "
        "(repeatable; `lbbench list` shows every path)",
    )


def router_config(args: argparse.Namespace) -> RouterConfig:
    """The router's configuration from the routing flags and ``--set``, or from
    ``--settings-json`` (how a rig hands its balancer a scenario's resolved settings)."""
    if args.settings_json is not None:
        given = [flag for name, flag in ROUTING_FLAGS.items() if getattr(args, name) is not None]
        if given:
            raise ConfigError(given[0], "does not go with --settings-json, which says it all")
        try:
            settings = json.loads(args.settings_json)
        except ValueError as error:
            raise ConfigError("--settings-json", f"not JSON: {error}") from None
        if not isinstance(settings, dict):
            raise ConfigError("--settings-json", "must be a JSON object of settings by path")
        return config_from_settings(settings, "--settings-json")
    config = RouterConfig(
        strategy=args.strategy or DEFAULT_STRATEGY,
        strategy_options=parse_options(args.option or []),
        failover=FailoverConfig(modes=parse_failover(args.failover or "+".join(DEFAULT_MODES))),
        deadline_s=args.deadline if args.deadline is not None else DEFAULT_DEADLINE_S,
        max_pending=args.max_pending if args.max_pending is not None else RouterConfig.max_pending,
    )
    return apply_settings(config, parse_settings(args.set or []))


def _balancers_flag(args: argparse.Namespace) -> int:
    from lbbench.scenario.balancers import check_balancers

    given = getattr(args, "balancers", None)
    return 1 if given is None else check_balancers(given, "--balancers")


def scenario_from_flags(
    args: argparse.Namespace, profile: Any, load: Any, strategy: str, name: str = ""
) -> Any:
    """A scenario from the single-scenario flags (--failover, --option, --deadline, --set,
    --seed, --trials; the defaults where not given): the one builder run, sim and locust share.
    ``name``: its name (default: strategy, failover and fleet)."""
    from lbbench.scenario.scenario import Scenario

    fields, options, rest = scenario_fields(parse_settings(args.set or []), "--set")
    modes = fields.get("failover") or parse_failover(args.failover or "+".join(DEFAULT_MODES))
    strategy = fields.get("strategy", strategy)
    balancer = fields.get("balancer") or getattr(args, "balancer", None) or "lbbench"
    deadline = args.deadline if args.deadline is not None else DEFAULT_DEADLINE_S
    scenario = Scenario(
        name=name
        or f"{balancer + ' ' if balancer not in ('lbbench', 'grpc') else ''}{strategy} "
        f"{'+'.join(modes)} on {profile.name}",
        profile=profile,
        strategy=strategy,
        failover=modes,
        load=load,
        strategy_options=tuple(sorted({**parse_options(args.option or []), **options}.items())),
        seed=args.seed if getattr(args, "seed", None) is not None else 1,
        trials=getattr(args, "trials", None) or 1,
        deadline_s=fields.get("deadline_s", deadline),
        settings=tuple(rest.items()),  # in the order given: the key names them so
        balancer=balancer,
        balancer_options=tuple(sorted(fields.get("balancer_options", {}).items())),
        balancers=fields.get("balancers", _balancers_flag(args)),
        balancers_split=fields.get("balancers_split", "even"),
    )
    scenario.validate()
    return scenario


def scenarios_from_flags(
    args: argparse.Namespace, profile: Any, load: Any, strategies: list[str]
) -> list[Any]:
    """One scenario per strategy from the single-scenario flags."""
    return [scenario_from_flags(args, profile, load, strategy) for strategy in strategies]
