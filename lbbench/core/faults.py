"""Faults: what a target does wrong, when, and for how long.

Shared by the live target (ZeroMQ and gRPC) and the simulator, so a fault
means the same everywhere. Times are seconds (``*_s``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lbbench.checks import check_number
from lbbench.core.fault_state import FaultState  # noqa: F401  (re-exported for users)
from lbbench.errors import ConfigError
from lbbench.schema import check_keys, fields_of, join, load


@dataclass(frozen=True)
class NoParams:
    """A fault kind without parameters."""


#: How a gRPC target signals an injected error (a proxy sees only some of them):
#: a gRPC status inside an HTTP 200 (its trailers), an HTTP 503, the stream reset
#: (RST_STREAM), or the whole connection closed. The ZeroMQ target and the
#: simulator answer an error whatever the signal.
SIGNALS = ("grpc-status", "http-503", "reset", "close")


@dataclass(frozen=True)
class ErrorRateParams:
    p: float = 0.5  # the fraction of requests answered with an error
    signal: str = "grpc-status"  # one of SIGNALS

    def __post_init__(self) -> None:
        check_number("p", self.p, low=0.0, high=1.0)
        if self.signal not in SIGNALS:
            known = ", ".join(SIGNALS)
            raise ConfigError("signal", f"unknown signal {self.signal!r} (known: {known})")


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
class AntagonistParams:
    share_max: float = 0.5  # each period's CPU share taken is uniform in [0, share_max]
    dwell_s: float = 1.0  # how long a share lasts
    seed: int = 0  # the same seed, the same shares over time (give each target its own)

    def __post_init__(self) -> None:
        # 0.95 at most: a share of 1 would stop the server (that is a stall).
        check_number("share_max", self.share_max, low=0.0, high=0.95)
        check_number("dwell_s", self.dwell_s, low=0.001, high=3600.0)
        check_number("seed", self.seed, low=0, high=2**31, integer=True)


@dataclass(frozen=True)
class FaultKind:
    """What a fault kind does, and its parameters (a dataclass with defaults)."""

    description: str
    Params: type = NoParams

    def defaults(self) -> dict[str, Any]:
        return dataclasses.asdict(self.Params())


FAULT_KINDS: dict[str, FaultKind] = {
    "error_rate": FaultKind("answers a fraction p of requests with an error", ErrorRateParams),
    "slow": FaultKind("service times multiplied by factor", SlowParams),
    "hang": FaultKind("takes requests and never answers; heartbeats go on"),
    "stall": FaultKind("stops serving (requests queue up) until the fault ends, then catches up"),
    "crash": FaultKind("the process exits; the runner restarts it when the fault ends"),
    "flap": FaultKind("partitioned for half of each period, then back", FlapParams),
    "drop": FaultKind("a partition: requests and heartbeats silently lost both ways"),
    "antagonist": FaultKind(
        "another tenant takes a share of the CPU that changes every dwell_s", AntagonistParams
    ),
    "end": FaultKind(
        "ends the faults in force, as when their time is up; an antagonist (the machine's"
        " condition) stays"
    ),
    "recover": FaultKind("clears every fault, an antagonist too"),
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

    def end_command(self) -> dict[str, Any]:
        """The control command that ends this fault when its time is up (not a crash, whose
        end is a restart): the live rigs send it, the simulator applies it."""
        return {"kind": "end"}

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
        defaults = dataclasses.asdict(params_type())
        # a word parameter at its default (an error's signal) is left out: keys and
        # descriptions made before it existed stay as they were
        kept = {
            k: v for k, v in dataclasses.asdict(params).items()
            if not (isinstance(v, str) and v == defaults[k])
        }  # fmt: skip
        return load(
            cls,
            {k: v for k, v in table.items() if k in common},
            where,
            params=tuple(kept.items()),
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
