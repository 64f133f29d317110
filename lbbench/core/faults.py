"""Faults: what a target does wrong, when, and for how long.

Shared by the live target (ZeroMQ and gRPC) and the simulator, so a fault
means the same everywhere. Times are seconds (``*_s``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lbbench.core.latency import _positive
from lbbench.errors import ConfigError

# fault kind -> (its parameters with defaults, what it does)
FAULT_KINDS: dict[str, tuple[dict[str, float], str]] = {
    "error_rate": ({"p": 0.5}, "answers a fraction p of requests with an error"),
    "slow": ({"factor": 4.0}, "service times multiplied by factor"),
    "hang": ({}, "takes requests and never answers; heartbeats go on"),
    "stall": ({}, "stops serving (requests queue up) until the fault ends, then catches up"),
    "crash": ({}, "the process exits; the runner restarts it when the fault ends"),
    "flap": ({"period_s": 1.0}, "partitioned for half of each period, then back"),
    "drop": ({}, "a partition: requests and heartbeats silently lost both ways"),
    "recover": ({}, "clears every fault"),
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

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.at_s + self.duration_s

    def command(self) -> dict[str, Any]:
        """The control command that starts this fault."""
        return {"kind": self.kind, **dict(self.params)}


def parse_fault(table: Any, where: str, targets: set[str] | None = None) -> Fault:
    """A ``[[fault]]`` table: at_s, target, kind, optional duration_s and parameters."""
    if not isinstance(table, Mapping):
        raise ConfigError(where, "must be a table")
    kind = table.get("kind")
    if kind not in FAULT_KINDS:
        raise ConfigError(
            f"{where}.kind", f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})"
        )
    defaults, _ = FAULT_KINDS[kind]
    allowed = {"at_s", "target", "kind", "duration_s", *defaults}
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}", f"unknown key for a {kind} fault")
    if "at_s" not in table:
        raise ConfigError(f"{where}.at_s", "missing (when the fault starts, in seconds)")
    at_s = _positive(f"{where}.at_s", table["at_s"], zero_ok=True)
    target = table.get("target")
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{where}.target", "missing (the id of the target to break)")
    if targets is not None and target not in targets:
        raise ConfigError(f"{where}.target", f"no target with id {target!r}")
    duration = table.get("duration_s")
    if duration is not None:
        duration = _positive(f"{where}.duration_s", duration)
    params = []
    for name, default in defaults.items():
        value = _positive(f"{where}.{name}", table.get(name, default))
        if name == "p" and value > 1:
            raise ConfigError(f"{where}.p", f"must be <= 1, got {value!r}")
        params.append((name, value))
    return Fault(at_s, target, kind, duration, tuple(params))


def parse_command(command: Any, where: str = "fault") -> dict[str, Any]:
    """Check a run-time fault command ``{"kind": ..., params}``; return it completed."""
    fault = parse_fault({"at_s": 0, "target": "-", **command}, where)
    return fault.command()


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
