"""Fleets for the simulator that no TOML file should have to spell out: N alike backends,
some of them slower, and the request rate that loads a fleet to a given utilization."""

from __future__ import annotations

import math

from lbbench.checks import check_number
from lbbench.core.latency import Latency
from lbbench.errors import ConfigError
from lbbench.scenario.profiles import (
    DEFAULT_CAPACITY,
    DEFAULT_LATENCY_MODEL,
    FleetProfile,
    TargetSpec,
)


def synthetic_fleet(
    backends: int,
    *,
    capacity: int = DEFAULT_CAPACITY,
    latency: Latency = DEFAULT_LATENCY_MODEL,
    slow_fraction: float = 0.0,
    slow_factor: float = 10.0,
) -> FleetProfile:
    """``backends`` targets alike but for ``slow_fraction`` of them, ``slow_factor`` times slower.

    The slow ones are spread evenly through the ids (so that no strategy
    gains from their position), and there is at least one as soon as the
    fraction is above zero: 5 % of 10 backends is one slow backend, not none.
    """
    check_number("--backends", backends, low=1, integer=True)
    check_number("--capacity", capacity, low=1, integer=True)
    check_number("--slow-fraction", slow_fraction, low=0.0, high=1.0)
    check_number("--slow-factor", slow_factor, low=0.0, low_open=True)
    slow_count = 0 if slow_fraction == 0 else max(1, round(backends * slow_fraction))
    slow = {math.floor((i + 0.5) * backends / slow_count) for i in range(slow_count)}
    width = len(str(backends - 1))
    slow_latency = latency.scaled(slow_factor)
    targets = tuple(
        TargetSpec(
            id=f"b{i:0{width}d}",
            capacity=capacity,
            latency=slow_latency if i in slow else latency,
        )
        for i in range(backends)
    )
    name = f"synthetic-{backends}"
    description = f"{backends} backends, capacity {capacity}, latency {latency.describe()}"
    if slow_count:
        name += f"-{slow_count}slow-x{slow_factor:g}"
        description += f"; {slow_count} of them {slow_factor:g}x slower"
    return FleetProfile(name, description, targets)


def fleet_capacity_rps(profile: FleetProfile) -> float:
    """Requests per second the fleet serves flat out (capacity / mean service time, summed)."""
    return sum(t.capacity / t.latency.mean_s() for t in profile.targets)


def rate_for_utilization(profile: FleetProfile, utilization: float) -> float:
    """The offered rate that keeps the fleet ``utilization`` busy if perfectly balanced."""
    check_number("--utilization", utilization, low=0.0, low_open=True)
    capacity = fleet_capacity_rps(profile)
    if not (capacity > 0 and math.isfinite(capacity)):
        raise ConfigError("--utilization", "needs targets with a finite mean service time")
    return utilization * capacity
