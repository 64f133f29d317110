"""Every router setting by one dotted path, read and written the same way everywhere.

Paths: ``strategy``, ``strategy_options.<option>``, ``failover.modes``,
``failover.<mode>.<setting>`` (any registered mode's settings, whether or
not the mode is on), ``deadline_s``, ``max_pending``, ``panic_threshold``,
``view``, ``view_period_s``, ``view_delay_s``.
The same path works in a scenario's settings, on the command line
(``--set PATH=VALUE``), in a suite file and in the balancer's control
``set`` command; ``resolved`` lists a configuration's every path and
value, which is what a result records so it alone reproduces the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lbbench.core.config import FailoverConfig, RouterConfig, parse_modes
from lbbench.core.failover import FAILOVER, policy_class
from lbbench.core.strategies import strategy_options
from lbbench.errors import ConfigError
from lbbench.schema import convert, fields_of, join, located

TOP = (
    "strategy",
    "deadline_s",
    "max_pending",
    "panic_threshold",
    "view",
    "view_period_s",
    "view_delay_s",
)


# The paths a scenario keeps as fields of its own (it names itself and its key by them);
# every other path stays a path until the router's configuration is built.
SCENARIO_FIELDS = {
    "strategy": "strategy",
    "failover.modes": "failover",
    "deadline_s": "deadline_s",
    "balancer": "balancer",
    "balancers": "balancers",
    "balancers_split": "balancers_split",
}
OPTIONS = "strategy_options."
BALANCER_OPTIONS = "balancer."  # a proxy's own: balancer.<proxy>.<key> (lbbench.proxies)


def scenario_fields(
    settings: Mapping[str, Any], where: str = ""
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Settings by path split into (a scenario's own fields, its strategy options, the other
    paths): the one place a path becomes a scenario's field."""
    fields: dict[str, Any] = {}
    options: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for path, value in settings.items():
        at = join(where, path)
        if path == "strategy":
            fields["strategy"] = convert(str, value, at)
        elif path == "failover.modes":
            fields["failover"] = parse_modes(value, join(where, "failover"))
        elif path == "deadline_s":
            fields["deadline_s"] = convert(float, value, at)
        elif path == "balancer":
            fields["balancer"] = convert(str, value, at)
        elif path == "balancers":
            fields["balancers"] = convert(int, value, at)
        elif path == "balancers_split":
            fields["balancers_split"] = convert(str, value, at)
        elif path.startswith(BALANCER_OPTIONS):
            fields.setdefault("balancer_options", {})[path[len(BALANCER_OPTIONS) :]] = value
        elif path.startswith(OPTIONS):
            options[path[len(OPTIONS) :]] = value
        else:
            rest[path] = value
    return fields, options, rest


def config_from_settings(settings: Mapping[str, Any], where: str = "") -> RouterConfig:
    """The router configuration that a map of settings by path describes (every path not
    given at its default): what a balancer builds from the resolved settings it is handed."""
    return apply_settings(RouterConfig(), settings, where)


def apply_settings(
    config: RouterConfig, settings: Mapping[str, Any], where: str = ""
) -> RouterConfig:
    """``config`` with the settings at the given paths changed (each one checked).

    A new ``strategy`` starts from its default options (plus any given);
    failover settings change one field of a mode's settings at a time.
    """
    top: dict[str, Any] = {}
    options: dict[str, Any] = {}
    modes = config.failover.modes
    changes: dict[str, dict[str, Any]] = {}
    hints = fields_of(RouterConfig)
    for path, value in settings.items():
        at = join(where, path)
        head, _, rest = path.partition(".")
        if head in TOP and not rest:
            top[head] = convert(hints[head], value, at)
        elif head == "strategy_options" and rest and "." not in rest:
            options[rest] = value
        elif head == "failover" and rest == "modes":
            modes = parse_modes(value, at)
        elif head == "failover" and rest.count(".") == 1:
            mode, _, name = rest.partition(".")
            known = fields_of(policy_class(mode, join(where, f"failover.{mode}")).Settings)
            if name not in known:
                raise ConfigError(
                    at, f"{mode} has no setting {name!r} (settings: {', '.join(known)})"
                )
            changes.setdefault(mode, {})[name] = convert(known[name], value, at)
        else:
            raise ConfigError(at, f"unknown setting (settings: {', '.join(setting_names())})")
    strategy = top.get("strategy", config.strategy)
    if strategy == config.strategy:
        options = {**config.strategy_options, **options}

    def build() -> RouterConfig:
        given = {
            mode: dataclasses.replace(config.failover.of(mode), **fields)
            for mode, fields in changes.items()
        }
        failover = FailoverConfig(modes=modes, settings={**config.failover.settings, **given})
        return dataclasses.replace(config, **top, strategy_options=options, failover=failover)

    return located(where, build)


def setting_names() -> list[str]:
    """The path patterns a user can set."""
    return [
        "strategy",
        "strategy_options.<option>",
        "failover.modes",
        "failover.<mode>.<setting>",
        "deadline_s",
        "max_pending",
        "panic_threshold",
        "view",
        "view_period_s",
        "view_delay_s",
    ]


def every_setting() -> dict[str, Any]:
    """Every settable path with its default (strategy options are per strategy)."""
    paths: dict[str, Any] = {"strategy": RouterConfig.strategy}
    paths["failover.modes"] = list(FailoverConfig().modes)
    for mode, policy in FAILOVER.items():
        for name in fields_of(policy.Settings):
            paths[f"failover.{mode}.{name}"] = getattr(policy.Settings(), name)
    for name in TOP[1:]:
        paths[name] = getattr(RouterConfig(), name)
    return paths


def resolved(config: RouterConfig) -> dict[str, Any]:
    """Every path that decides how ``config`` routes, with its value (defaults included).

    Strategy options are the strategy's own, and failover settings those of
    the modes in force: what a result records to reproduce the run.
    """
    paths: dict[str, Any] = {"strategy": config.strategy}
    options = {**strategy_options(config.strategy), **config.strategy_options}
    for name, value in sorted(options.items()):
        paths[f"strategy_options.{name}"] = value
    paths["failover.modes"] = list(config.failover.modes)
    for mode in config.failover.modes:
        settings = config.failover.of(mode)
        for name in fields_of(type(settings)):
            paths[f"failover.{mode}.{name}"] = getattr(settings, name)
    for name in TOP[1:]:
        paths[name] = getattr(config, name)
    return paths
