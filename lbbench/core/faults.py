"""Faults: what a target does wrong, when, and for how long.

Shared by the live target (ZeroMQ and gRPC) and the simulator, so a fault
means the same everywhere. Times are seconds (``*_s``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lbbench.checks import check_number
from lbbench.errors import ConfigError
from lbbench.schema import check_keys, fields_of, join, load


@dataclass(frozen=True)
class NoParams:
    """A fault kind without parameters."""


@dataclass(frozen=True)
class ErrorRateParams:
    p: float = 0.5  # the fraction of requests answered with an error

    def __post_init__(self) -> None:
        check_number("p", self.p, low=0.0, high=1.0)


@dataclass(frozen=True)
class SlowParams:
    factor: float = 4.0  # service times are multiplied by it

    def __post_init__(self) -> None:
        # A bound, so that no job is scheduled beyond any run (1e9 wedged a target for good).
        check_number("factor", self.factor, low=0.0, high=1000.0, low_open=True)


@dataclass(frozen=True)
class FlapParams:
    period_s: float = 1.0  # partitioned for the first half of each period

    def __post_init__(self) -> None:
        check_number("period_s", self.period_s, low=0.0, high=3600.0, low_open=True)


@dataclass(frozen=True)
class FaultKind:
    """What a fault kind does, and its parameters (a dataclass with defaults)."""

    description: str
    Params: type = NoParams

    def defaults(self) -> dict[str, float]:
        return dataclasses.asdict(self.Params())


FAULT_KINDS: dict[str, FaultKind] = {
    "error_rate": FaultKind("answers a fraction p of requests with an error", ErrorRateParams),
    "slow": FaultKind("service times multiplied by factor", SlowParams),
    "hang": FaultKind("takes requests and never answers; heartbeats go on"),
    "stall": FaultKind("stops serving (requests queue up) until the fault ends, then catches up"),
    "crash": FaultKind("the process exits; the runner restarts it when the fault ends"),
    "flap": FaultKind("partitioned for half of each period, then back", FlapParams),
    "drop": FaultKind("a partition: requests and heartbeats silently lost both ways"),
    "recover": FaultKind("clears every fault"),
}


@dataclass(frozen=True)
class Fault:
    """One fault on one target: starts at ``at_s`` (from load start), lasts ``duration_s``.

    ``duration_s`` None means until the end of the run. ``params`` holds the
    kind's parameters (p, factor, period_s) with defaults filled in.
    """

    at_s: float
    target: str
    kind: str
    duration_s: float | None = None
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        check_number("at_s", self.at_s, low=0.0)
        if not self.target:
            raise ConfigError("target", "missing (the id of the target to break)")
        if self.duration_s is not None:
            check_number("duration_s", self.duration_s, low=0.0, low_open=True)

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.at_s + self.duration_s

    def command(self) -> dict[str, Any]:
        """The control command that starts this fault."""
        return {"kind": self.kind, **dict(self.params)}

    @classmethod
    def from_table(cls, table: Any, where: str) -> Fault:
        """A ``[[fault]]`` table: at_s, target, kind, optional duration_s, the kind's parameters."""
        if not isinstance(table, Mapping):
            raise ConfigError(where, f"must be a table, got {table!r}")
        kind = table.get("kind")
        if kind not in FAULT_KINDS:
            raise ConfigError(
                join(where, "kind"),
                f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})",
            )
        params_type = FAULT_KINDS[kind].Params
        common = ("at_s", "target", "kind", "duration_s")
        check_keys(table, [*common, *fields_of(params_type)], where)
        params: Any = load(params_type, {k: v for k, v in table.items() if k not in common}, where)
        return load(
            cls,
            {k: v for k, v in table.items() if k in common},
            where,
            params=tuple(dataclasses.asdict(params).items()),
        )


def parse_command(command: Any, where: str = "fault") -> dict[str, Any]:
    """Check a run-time fault command ``{"kind": ..., params, "duration_s": ...}``;
    return it completed (the kind's parameters defaulted; ``duration_s`` kept when given)."""
    if not isinstance(command, Mapping):
        raise ConfigError(where, f"must be a table, got {command!r}")
    fault = Fault.from_table({"at_s": 0, "target": "-", **command}, where)
    completed = fault.command()
    if fault.duration_s is not None:
        completed["duration_s"] = fault.duration_s
    return completed


class FaultState:
    """The faults in force on one target right now.

    ``apply`` takes a command (kind plus parameters); ``recover`` clears
    everything. ``dropping(now)`` covers both drop and flap (which drops for
    the first half of every period).
    """

    def __init__(self) -> None:
        self.recover()

    def recover(self) -> None:
        self.healthy = True  # no fault in force: lets the hot paths skip every check
        self.error_p = 0.0
        self.slow_factor = 1.0
        self.hanging = False
        self.stalled = False
        self.dropped = False
        self.flap_period = 0.0
        self.flap_start = 0.0

    def apply(self, command: Mapping[str, Any], now: float) -> None:
        kind = command["kind"]
        self.healthy = kind == "recover"
        if kind == "recover":
            self.recover()
        elif kind == "error_rate":
            self.error_p = float(command["p"])
        elif kind == "slow":
            self.slow_factor = float(command["factor"])
        elif kind == "hang":
            self.hanging = True
        elif kind == "stall":
            self.stalled = True
        elif kind == "drop":
            self.dropped = True
        elif kind == "flap":
            self.flap_period = float(command["period_s"])
            self.flap_start = now
        else:  # crash ends the process: whoever runs the target handles it
            raise ConfigError("fault.kind", f"{kind!r} is not a fault a running target applies")

    def fails(self, draw: Callable[[], float]) -> bool:
        """Whether an answer is an error, under the error rate in force."""
        return self.error_p > 0.0 and draw() < self.error_p

    def dropping(self, now: float) -> bool:
        if self.dropped:
            return True
        if self.flap_period > 0.0:
            phase = ((now - self.flap_start) % self.flap_period) / self.flap_period
            return phase < 0.5
        return False

    def describe(self) -> str:
        parts = []
        if self.error_p:
            parts.append(f"error_rate p={self.error_p:g}")
        if self.slow_factor != 1.0:
            parts.append(f"slow x{self.slow_factor:g}")
        if self.hanging:
            parts.append("hang")
        if self.stalled:
            parts.append("stall")
        if self.dropped:
            parts.append("drop")
        if self.flap_period:
            parts.append(f"flap {self.flap_period:g}s")
        return ", ".join(parts) or "healthy"
