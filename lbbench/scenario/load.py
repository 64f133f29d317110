"""The load a scenario offers: rate and its shape over time, arrivals, open or closed loop, keys.

Pure description, shared by every rig: the live generator and the
simulator draw the same schedule from the same seed (``next_gap``) and the
same routing keys (``key_sampler``).
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lbbench.checks import check_number
from lbbench.errors import ConfigError

ARRIVALS = ("poisson", "constant")
SHAPES = ("flat", "step", "ramp")
MODES = ("open", "closed")


@dataclass(frozen=True)
class LoadSpec:
    """What load to offer. ``rate`` is requests per second over all processes."""

    rate: float = 1000.0
    duration_s: float = 5.0
    arrival: str = "poisson"
    shape: str = "flat"
    mode: str = "open"
    clients: int = 16
    think_s: float = 0.0
    keys: int = 0
    payload_bytes: int = 32
    processes: int = 1
    drain_s: float = 3.0

    PATH = "load"

    def __post_init__(self) -> None:
        p = self.PATH
        check_number(f"{p}.rate", self.rate, low=0, low_open=True)
        check_number(f"{p}.duration_s", self.duration_s, low=0, low_open=True)
        check_number(f"{p}.clients", self.clients, low=0, low_open=True, integer=True)
        check_number(f"{p}.think_s", self.think_s, low=0)
        check_number(f"{p}.keys", self.keys, low=0, integer=True)
        check_number(f"{p}.payload_bytes", self.payload_bytes, low=0, integer=True)
        check_number(f"{p}.processes", self.processes, low=0, low_open=True, integer=True)
        check_number(f"{p}.drain_s", self.drain_s, low=0)
        for name, value, known in (
            ("arrival", self.arrival, ARRIVALS),
            ("shape", self.shape, SHAPES),
            ("mode", self.mode, MODES),
        ):
            if value not in known:
                raise ConfigError(f"{p}.{name}", f"unknown {value!r} (known: {', '.join(known)})")

    def rate_at(self, offset_s: float) -> float:
        """The offered rate at ``offset_s`` into the run, for the chosen shape."""
        if self.shape == "step":  # thirds at 0.5x, 1x, 1.5x
            third = min(2, int(3 * offset_s / self.duration_s))
            return self.rate * (0.5, 1.0, 1.5)[third]
        if self.shape == "ramp":  # from 10 % to 100 % linearly
            return self.rate * (0.1 + 0.9 * min(1.0, offset_s / self.duration_s))
        return self.rate

    def next_gap(self, offset_s: float, rng: random.Random) -> float:
        """Seconds from the send intended at ``offset_s`` to the next one."""
        rate = self.rate_at(offset_s)
        return 1.0 / rate if self.arrival == "constant" else rng.expovariate(rate)

    def key_parts(self) -> list[str]:
        """What else tells this load apart (routing keys, closed-loop clients, think time,
        payload), for scenario keys; empty for the defaults."""
        parts = []
        if self.keys:
            parts.append(f"keys={self.keys}")
        if self.mode == "closed":
            parts.append(f"clients={self.clients}")
            if self.think_s:
                parts.append(f"think={self.think_s:g}s")
        if self.payload_bytes != 32:
            parts.append(f"payload={self.payload_bytes}B")
        return parts

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_sampler(spec: LoadSpec, rng: random.Random) -> Callable[[], bytes] | None:
    """Draws a routing key per request (None when the load has no keys)."""
    if spec.keys == 0:
        return None
    keys = [f"key-{i}".encode() for i in range(spec.keys)]
    # Zipf-like popularity (s = 1): a few hot keys, a long tail, as real traffic has.
    weights = [1.0 / (i + 1) for i in range(spec.keys)]
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    return lambda: keys[min(len(keys) - 1, bisect_left(cumulative, rng.random() * total))]
