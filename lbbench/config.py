"""Configuration of the decision core: frozen dataclasses, validated on creation.

Every range check raises a ConfigError that names the field by its path
(for example ``failover.hedge.delay_s``), the same path a TOML file or a CLI
flag would use, so a user can find what to fix.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from lbbench.checks import check_number
from lbbench.errors import ConfigError

FAILOVER_MODES: dict[str, str] = {
    "fail_fast": "no second chance: a failed or timed-out attempt is the answer",
    "retry": "retry on a different backend: attempt limit, retry budget, jittered backoff",
    "eject": "outlier ejection (consecutive failures, slow outliers) and heartbeat health",
    "primary_backup": "tiers: backups take traffic only while healthy primaries fall short",
    "hedge": "a second attempt after a delay (fixed or a latency percentile); first reply wins",
    "circuit_breaker": "per-backend breaker: closed, open on failure ratio, half-open trials",
}


_check = check_number


@dataclass(frozen=True)
class RetryConfig:
    """Retry on another backend (Envoy/Finagle semantics).

    ``max_attempts`` counts the first try. The budget allows, within a
    sliding ``budget_window_s``, at most max(``budget_min_retries``,
    ``budget_ratio`` x requests) retries, so a total outage multiplies load
    by at most 1 + ratio once traffic exceeds the small minimum.
    """

    PATH: ClassVar[str] = "failover.retry"
    max_attempts: int = 3
    # 0.5, not Linkerd's 0.2: with one dead backend of four, round robin sends
    # it a quarter of all picks, retries included, so a third of requests need
    # a retry; 0.5 still caps a total outage at 1.5x the load.
    budget_ratio: float = 0.5
    budget_min_retries: int = 10
    budget_window_s: float = 10.0
    backoff_base_s: float = 0.001
    backoff_max_s: float = 0.025
    per_try_timeout_s: float = 0.25

    def __post_init__(self) -> None:
        p = self.PATH
        _check(f"{p}.max_attempts", self.max_attempts, low=1, integer=True)
        _check(f"{p}.budget_ratio", self.budget_ratio, low=0.0)
        _check(f"{p}.budget_min_retries", self.budget_min_retries, low=0, integer=True)
        _check(f"{p}.budget_window_s", self.budget_window_s, low=0.0, low_open=True)
        _check(f"{p}.backoff_base_s", self.backoff_base_s, low=0.0)
        _check(f"{p}.backoff_max_s", self.backoff_max_s, low=self.backoff_base_s)
        _check(f"{p}.per_try_timeout_s", self.per_try_timeout_s, low=0.0, low_open=True)


@dataclass(frozen=True)
class HedgeConfig:
    """Hedged requests (Dean & Barroso, "The Tail at Scale").

    A second attempt goes out ``delay_s`` after the first, or, when
    ``delay_s`` is unset, after the ``percentile`` of recent latencies (using
    ``initial_delay_s`` until ``min_samples`` replies are known). At most one
    extra attempt per request; hedges may be at most ``budget_ratio`` of
    requests.
    """

    PATH: ClassVar[str] = "failover.hedge"
    delay_s: float | None = None
    percentile: float = 95.0
    min_samples: int = 50
    initial_delay_s: float = 0.05
    budget_ratio: float = 0.1

    def __post_init__(self) -> None:
        p = self.PATH
        if self.delay_s is not None:
            _check(f"{p}.delay_s", self.delay_s, low=0.0)
        _check(f"{p}.percentile", self.percentile, low=0.0, high=100.0, low_open=True)
        _check(f"{p}.min_samples", self.min_samples, low=1, integer=True)
        _check(f"{p}.initial_delay_s", self.initial_delay_s, low=0.0)
        _check(f"{p}.budget_ratio", self.budget_ratio, low=0.0, high=1.0)


@dataclass(frozen=True)
class EjectConfig:
    """Outlier ejection and active health (Envoy outlier_detection + health checks).

    A backend is ejected after ``consecutive_failures`` failed attempts in a
    row or, when ``latency_factor`` > 0, when its latency EWMA exceeds that
    factor times the fleet median. Ejection lasts ``base_ejection_s`` x the
    number of times it was ejected, at most ``max_ejection_s``; at most
    ``max_ejected_fraction`` of backends (always at least one, never the last)
    are out at once. Heartbeats are checked every ``heartbeat_interval_s``:
    down after ``heartbeat_down_after`` silent intervals, up after
    ``heartbeat_up_after`` heard ones.
    """

    PATH: ClassVar[str] = "failover.eject"
    consecutive_failures: int = 5
    base_ejection_s: float = 1.0
    max_ejection_s: float = 30.0
    max_ejected_fraction: float = 0.5
    latency_factor: float = 0.0
    latency_min_samples: int = 20
    heartbeat_interval_s: float = 0.1
    heartbeat_down_after: int = 3
    heartbeat_up_after: int = 2

    def __post_init__(self) -> None:
        p = self.PATH
        _check(f"{p}.consecutive_failures", self.consecutive_failures, low=1, integer=True)
        _check(f"{p}.base_ejection_s", self.base_ejection_s, low=0.0, low_open=True)
        _check(f"{p}.max_ejection_s", self.max_ejection_s, low=self.base_ejection_s)
        _check(f"{p}.max_ejected_fraction", self.max_ejected_fraction, low=0.0, high=1.0)
        if self.latency_factor != 0:
            _check(f"{p}.latency_factor", self.latency_factor, low=1.0, low_open=True)
        _check(f"{p}.latency_min_samples", self.latency_min_samples, low=1, integer=True)
        _check(f"{p}.heartbeat_interval_s", self.heartbeat_interval_s, low=0.0, low_open=True)
        _check(f"{p}.heartbeat_down_after", self.heartbeat_down_after, low=1, integer=True)
        _check(f"{p}.heartbeat_up_after", self.heartbeat_up_after, low=1, integer=True)


@dataclass(frozen=True)
class BreakerConfig:
    """Per-backend circuit breaker (closed, open, half-open), as in Hystrix/resilience4j.

    Opens when, among the last ``window`` outcomes (at least ``min_requests``),
    the failure ratio reaches ``failure_ratio``; stays open ``open_s``; then
    lets ``half_open_trials`` requests through at once: that many successes
    close it, one failure opens it again.
    """

    PATH: ClassVar[str] = "failover.circuit_breaker"
    window: int = 20
    min_requests: int = 10
    failure_ratio: float = 0.5
    open_s: float = 1.0
    half_open_trials: int = 3

    def __post_init__(self) -> None:
        p = self.PATH
        _check(f"{p}.window", self.window, low=1, integer=True)
        _check(f"{p}.min_requests", self.min_requests, low=1, high=self.window, integer=True)
        _check(f"{p}.failure_ratio", self.failure_ratio, low=0.0, high=1.0, low_open=True)
        _check(f"{p}.open_s", self.open_s, low=0.0, low_open=True)
        _check(f"{p}.half_open_trials", self.half_open_trials, low=1, integer=True)


@dataclass(frozen=True)
class TierConfig:
    """Primary/backup tiers with Envoy's priority-load rule.

    Tier k takes min(100 %, ``overprovisioning`` x its healthy fraction) of
    what the tiers before it leave over, so backups take traffic only while
    healthy primaries fall short (factor 1.4: once fewer than about 71 % of
    primaries are healthy) and give it back as they recover.
    """

    PATH: ClassVar[str] = "failover.primary_backup"
    overprovisioning: float = 1.4

    def __post_init__(self) -> None:
        _check(f"{self.PATH}.overprovisioning", self.overprovisioning, low=1.0)


@dataclass(frozen=True)
class FailoverConfig:
    """Which failover modes are on, and their settings. Modes compose."""

    modes: tuple[str, ...] = ("fail_fast",)
    retry: RetryConfig = field(default_factory=RetryConfig)
    hedge: HedgeConfig = field(default_factory=HedgeConfig)
    eject: EjectConfig = field(default_factory=EjectConfig)
    circuit_breaker: BreakerConfig = field(default_factory=BreakerConfig)
    primary_backup: TierConfig = field(default_factory=TierConfig)

    def __post_init__(self) -> None:
        if not self.modes:
            raise ConfigError("failover", "needs at least one mode (fail_fast for none)")
        seen: set[str] = set()
        for mode in self.modes:
            if mode not in FAILOVER_MODES:
                known = ", ".join(FAILOVER_MODES)
                raise ConfigError("failover", f"unknown failover mode {mode!r} (known: {known})")
            if mode in seen:
                raise ConfigError("failover", f"mode {mode!r} given twice")
            seen.add(mode)
        if "fail_fast" in seen and len(seen) > 1:
            raise ConfigError(
                "failover", "fail_fast means no failover and cannot be combined with other modes"
            )

    def has(self, mode: str) -> bool:
        return mode in self.modes

    @property
    def label(self) -> str:
        return "+".join(self.modes)


def parse_failover(text: str, where: str = "--failover") -> tuple[str, ...]:
    """Modes from a list such as ``eject,retry`` or ``eject+retry``."""
    modes = tuple(m.strip() for m in text.replace("+", ",").split(",") if m.strip())
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
    """

    strategy: str = "round_robin"
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    failover: FailoverConfig = field(default_factory=FailoverConfig)
    deadline_s: float = 1.0
    max_pending: int = 10_000
    panic_threshold: float = 0.5

    def __post_init__(self) -> None:
        from lbbench.strategies import make_strategy

        if not isinstance(self.strategy_options, Mapping):
            raise ConfigError("strategy_options", "must be a table of option = value")
        object.__setattr__(self, "strategy_options", MappingProxyType(dict(self.strategy_options)))
        # Building one checks the name, the option names, types and ranges.
        make_strategy(self.strategy, random.Random(0), dict(self.strategy_options))
        _check("deadline_s", self.deadline_s, low=0.0, low_open=True)
        _check("max_pending", self.max_pending, low=1, integer=True)
        _check("panic_threshold", self.panic_threshold, low=0.0, high=1.0)


T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build a config dataclass from a TOML table, rejecting unknown keys."""
    if not isinstance(data, Mapping):
        raise ConfigError(where, f"must be a table, got {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in names:
            raise ConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(names))})")
    return cls(**data)
