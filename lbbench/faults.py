"""Latency distributions and faults: what a target does to its requests.

Shared by the live target and the simulator, so that both model a
service the same way. Times in configuration are milliseconds (``*_ms``) or
seconds (``*_s``); samplers return seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from lbbench.checks import check_number
from lbbench.errors import ConfigError

# distribution -> its parameters (all required)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "fixed": ("ms",),
    "uniform": ("min_ms", "max_ms"),
    "exponential": ("mean_ms",),
    "lognormal": ("median_ms", "sigma"),
    "bimodal": ("fast_ms", "slow_ms", "slow_fraction"),
    "pareto": ("scale_ms", "alpha"),
}

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
class Latency:
    """A service-time distribution; ``sampler(rng)`` draws seconds."""

    dist: str
    params: tuple[tuple[str, float], ...]

    def seconds(self) -> dict[str, float]:
        """The parameters with times in seconds."""
        return {k: v / 1e3 if k.endswith("_ms") or k == "ms" else v for k, v in self.params}

    def quantile(self) -> Callable[[float], float]:
        """The inverse distribution function: ``u`` in [0, 1) to seconds.

        Every draw goes through it (the live target feeds it ``rng.random()``,
        the simulator a uniform that belongs to the request), so that two
        strategies simulated with the same seed give the same request the
        same quantile of service time, wherever it is served.
        """
        p = self.seconds()
        dist = self.dist
        if dist == "fixed":
            value = p["ms"]
            return lambda u: value
        if dist == "uniform":
            low, span = p["min_ms"], p["max_ms"] - p["min_ms"]
            return lambda u: low + u * span
        if dist == "exponential":
            mean = p["mean_ms"]
            return lambda u: -mean * math.log(1.0 - u)
        if dist == "lognormal":
            mu, sigma = math.log(p["median_ms"]), p["sigma"]
            normal = NormalDist().inv_cdf
            # inv_cdf is open at 0; random() can return exactly 0.0
            return lambda u: math.exp(mu + sigma * normal(u or 1e-300))
        if dist == "bimodal":
            fast, slow, fraction = p["fast_ms"], p["slow_ms"], p["slow_fraction"]
            return lambda u: slow if u < fraction else fast
        if dist == "pareto":
            scale, exponent = p["scale_ms"], -1.0 / p["alpha"]
            return lambda u: scale * (1.0 - u) ** exponent
        raise AssertionError(dist)

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """Draws seconds from ``rng``."""
        quantile = self.quantile()
        draw = rng.random
        return lambda: quantile(draw())

    def mean_s(self) -> float:
        """The mean service time in seconds (infinite for a Pareto with alpha <= 1)."""
        p = self.seconds()
        dist = self.dist
        if dist == "fixed":
            return p["ms"]
        if dist == "uniform":
            return (p["min_ms"] + p["max_ms"]) / 2
        if dist == "exponential":
            return p["mean_ms"]
        if dist == "lognormal":
            return p["median_ms"] * math.exp(p["sigma"] ** 2 / 2)
        if dist == "bimodal":
            f = p["slow_fraction"]
            return f * p["slow_ms"] + (1 - f) * p["fast_ms"]
        if dist == "pareto":
            alpha = p["alpha"]
            return math.inf if alpha <= 1 else p["scale_ms"] * alpha / (alpha - 1)
        raise AssertionError(dist)

    def scaled(self, factor: float) -> Latency:
        """The same distribution with every time multiplied by ``factor``."""
        return Latency(
            self.dist,
            tuple((k, v * factor if k.endswith("_ms") or k == "ms" else v) for k, v in self.params),
        )

    def describe(self) -> str:
        return f"{self.dist}(" + ", ".join(f"{k}={v:g}" for k, v in self.params) + ")"


def _positive(where: str, value: Any, *, zero_ok: bool = False) -> float:
    check_number(where, value, low=0, low_open=not zero_ok)
    return float(value)


def parse_latency(table: Any, where: str) -> Latency:
    """A latency table such as ``{ dist = "exponential", mean_ms = 2.0 }``."""
    if not isinstance(table, Mapping):
        raise ConfigError(
            where, f'must be a table like {{ dist = "fixed", ms = 1 }}, got {table!r}'
        )
    dist = table.get("dist")
    if dist not in DISTRIBUTIONS:
        raise ConfigError(
            f"{where}.dist", f"unknown distribution {dist!r} (known: {', '.join(DISTRIBUTIONS)})"
        )
    names = DISTRIBUTIONS[dist]
    for key in table:
        if key != "dist" and key not in names:
            raise ConfigError(f"{where}.{key}", f"{dist} takes {', '.join(names)}")
    params = []
    for name in names:
        if name not in table:
            raise ConfigError(f"{where}.{name}", f"missing (a {dist} latency needs it)")
        zero_ok = name in ("ms", "min_ms", "slow_fraction", "sigma")
        params.append((name, _positive(f"{where}.{name}", table[name], zero_ok=zero_ok)))
    latency = Latency(dist, tuple(params))
    p = dict(params)
    if dist == "uniform" and p["max_ms"] < p["min_ms"]:
        raise ConfigError(f"{where}.max_ms", "must be >= min_ms")
    if dist == "bimodal" and p["slow_fraction"] > 1:
        raise ConfigError(f"{where}.slow_fraction", "must be <= 1")
    return latency


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

    def param(self, name: str) -> float:
        return dict(self.params)[name]

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
        elif kind == "crash":
            raise SystemExit(3)  # the caller turns this into a hard exit
        else:
            raise ConfigError("fault.kind", f"unknown fault kind {kind!r}")

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
