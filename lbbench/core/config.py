"""Configuration of the decision core: frozen dataclasses, validated on creation.

Every range check raises a ConfigError that names the field by its path
(for example ``failover.hedge.delay_s``), the same path a TOML file or a CLI
flag would use, so a user can find what to fix. Each failover mode's
settings class lives with its policy (``lbbench.core.failover``);
``FailoverConfig`` holds the modes in force and the settings of every
registered mode, so a setting can be given before its mode is switched on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lbbench.checks import check_number
from lbbench.core.failover import FAILOVER, policy_class
from lbbench.core.strategies import make_strategy, strategy_class
from lbbench.errors import ConfigError

# The defaults of the settings a scenario names by field, declared once.
DEFAULT_STRATEGY = "round_robin"
DEFAULT_MODES: tuple[str, ...] = ("fail_fast",)
DEFAULT_DEADLINE_S = 1.0
#: What a router knows of the backends' load: its own requests only ("local"), the
#: backends' periodic reports ("reports", every ``view_period_s``, ``view_delay_s`` old
#: when they arrive), or what it asks them on demand ("probes": the probing strategy).
VIEWS = ("local", "reports", "probes")


@dataclass(frozen=True)
class FailoverConfig:
    """Which failover modes are on, and the settings of every mode. Modes compose.

    ``settings`` maps a mode name to its settings object (the policy's
    ``Settings`` class); modes left out get their defaults.
    """

    modes: tuple[str, ...] = DEFAULT_MODES
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.modes:
            raise ConfigError("failover", "needs at least one mode (fail_fast for none)")
        seen: set[str] = set()
        for mode in self.modes:
            policy_class(mode)
            if mode in seen:
                raise ConfigError("failover", f"mode {mode!r} given twice")
            seen.add(mode)
        for mode in seen:
            if FAILOVER[mode].alone and len(seen) > 1:
                raise ConfigError(
                    "failover", f"{mode} means no failover and cannot be combined with other modes"
                )
        if not isinstance(self.settings, Mapping):
            raise ConfigError("failover", "settings must map a mode to its settings")
        complete: dict[str, Any] = {}
        for name, cls in FAILOVER.items():
            given = self.settings.get(name)
            if given is None:
                given = cls.Settings()
            elif not isinstance(given, cls.Settings):
                raise ConfigError(
                    f"failover.{name}", f"expected {cls.Settings.__name__}, got {given!r}"
                )
            complete[name] = given
        for name in self.settings:
            if name not in FAILOVER:
                policy_class(name, f"failover.{name}")
        object.__setattr__(self, "settings", MappingProxyType(complete))

    def has(self, mode: str) -> bool:
        return mode in self.modes

    def of(self, mode: str) -> Any:
        """The settings of ``mode`` (its defaults unless given)."""
        return self.settings[mode]

    @property
    def label(self) -> str:
        return "+".join(self.modes)


def parse_modes(value: Any, where: str) -> tuple[str, ...]:
    """Failover modes from a list (``["eject", "retry"]``) or text (``"eject,retry"``,
    ``"eject+retry"``); the one parser of a mode list."""
    if isinstance(value, str):
        return tuple(m.strip() for m in value.replace("+", ",").split(",") if m.strip())
    if isinstance(value, list | tuple) and all(isinstance(m, str) for m in value):
        return tuple(value)
    raise ConfigError(where, f"must be a list of mode names, got {value!r}")


def parse_failover(text: str, where: str = "--failover") -> tuple[str, ...]:
    """Modes from a list such as ``eject,retry`` or ``eject+retry``, checked."""
    modes = parse_modes(text, where)
    if not modes:
        raise ConfigError(where, "needs at least one failover mode")
    try:
        FailoverConfig(modes=modes)
    except ConfigError as error:
        raise ConfigError(where, error.message) from None
    return modes


@dataclass(frozen=True)
class RouterConfig:
    """Everything the router needs besides the backends, time and randomness.

    ``deadline_s`` bounds a request end to end, failover included; without
    retry it is also the only timeout. ``max_pending`` bounds the requests
    the router holds: beyond it a request is answered ``overloaded`` at once.
    ``panic_threshold``: when fewer than this fraction of joined backends are
    healthy, heartbeat verdicts are ignored and traffic spreads over every
    backend that is not ejected or open-circuit (0 turns panic off).
    ``view`` (``VIEWS``): where load-aware strategies get a backend's load;
    under "reports" the driver hands the router each backend's reported load
    (``Router.on_load_report``) every ``view_period_s``, ``view_delay_s`` late.
    """

    strategy: str = DEFAULT_STRATEGY
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    failover: FailoverConfig = field(default_factory=FailoverConfig)
    deadline_s: float = DEFAULT_DEADLINE_S
    max_pending: int = 10_000
    panic_threshold: float = 0.5
    view: str = "local"
    view_period_s: float = 0.1
    view_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.strategy_options, Mapping):
            raise ConfigError("strategy_options", "must be a table of option = value")
        object.__setattr__(self, "strategy_options", MappingProxyType(dict(self.strategy_options)))
        # Building one checks the name, the option names, types and ranges.
        make_strategy(self.strategy, random.Random(0), dict(self.strategy_options))
        check_number("deadline_s", self.deadline_s, low=0.0, low_open=True)
        check_number("max_pending", self.max_pending, low=1, integer=True)
        check_number("panic_threshold", self.panic_threshold, low=0.0, high=1.0)
        if self.view not in VIEWS:
            raise ConfigError("view", f"unknown view {self.view!r} (views: {', '.join(VIEWS)})")
        views = strategy_class(self.strategy).views
        if self.view not in views:
            raise ConfigError(
                "view",
                f"{self.strategy} cannot use view {self.view!r} (it takes: {', '.join(views)}; "
                "reports: least_connections, p2c, peak_ewma; probes: probing)",
            )
        check_number("view_period_s", self.view_period_s, low=0.0, low_open=True)
        check_number("view_delay_s", self.view_delay_s, low=0.0)
