"""Service-time distributions: what a target's latency model draws from.

Shared by the live target and the simulator, so that both model a
service the same way. Times in configuration are milliseconds (``*_ms``);
samplers return seconds.
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
    # a lognormal body and, for stall_fraction of the requests, a stall of
    # stall_ms instead (interference: a daemon, a collector, a compaction)
    "lognormal_stalls": ("median_ms", "sigma", "stall_ms", "stall_fraction"),
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
        if dist == "lognormal_stalls":
            mu, sigma = math.log(p["median_ms"]), p["sigma"]
            stall, fraction = p["stall_ms"], p["stall_fraction"]
            normal = NormalDist().inv_cdf
            # the lowest quantiles stall; the rest, stretched to [0, 1), are the body
            return lambda u: (
                stall
                if u < fraction
                else math.exp(mu + sigma * normal(((u - fraction) / (1.0 - fraction)) or 1e-300))
            )
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
        if dist == "lognormal_stalls":
            f = p["stall_fraction"]
            body = p["median_ms"] * math.exp(p["sigma"] ** 2 / 2)
            return f * p["stall_ms"] + (1 - f) * body
        raise AssertionError(dist)

    def scaled(self, factor: float) -> Latency:
        """The same distribution with every time multiplied by ``factor``."""
        return Latency(
            self.dist,
            tuple((k, v * factor if k.endswith("_ms") or k == "ms" else v) for k, v in self.params),
        )

    def describe(self) -> str:
        return f"{self.dist}(" + ", ".join(f"{k}={v:g}" for k, v in self.params) + ")"

    @classmethod
    def from_table(cls, table: Any, where: str) -> Latency:
        """From a table such as ``{ dist = "exponential", mean_ms = 2.0 }`` (``parse_latency``)."""
        return parse_latency(table, where)


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
        zero_ok = name in ("ms", "min_ms", "slow_fraction", "sigma", "stall_fraction")
        value = table[name]
        check_number(f"{where}.{name}", value, low=0, low_open=not zero_ok)
        params.append((name, float(value)))
    latency = Latency(dist, tuple(params))
    p = dict(params)
    if dist == "uniform" and p["max_ms"] < p["min_ms"]:
        raise ConfigError(f"{where}.max_ms", "must be >= min_ms")
    if dist == "bimodal" and p["slow_fraction"] > 1:
        raise ConfigError(f"{where}.slow_fraction", "must be <= 1")
    if dist == "lognormal_stalls" and p["stall_fraction"] >= 1:
        raise ConfigError(f"{where}.stall_fraction", "must be < 1")
    return latency
