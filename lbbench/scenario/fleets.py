"""Fleets no TOML file should have to spell out (N alike backends, some of them slower),
and the request rate that loads a fleet to a given utilization."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from lbbench.checks import check_number
from lbbench.core.faults import AntagonistParams, Fault
from lbbench.core.latency import Latency
from lbbench.errors import ConfigError
from lbbench.scenario.profiles import (
    DEFAULT_CAPACITY,
    DEFAULT_LATENCY_MODEL,
    FleetProfile,
    TargetSpec,
)


@dataclass(frozen=True)
class Antagonist:
    """Every backend shares its machine with a tenant whose CPU share changes over time.

    Each backend gets an ``antagonist`` fault from the load's start, seeded
    with ``seed`` plus its index: the same fleet, the same antagonist load
    over time, whatever the strategy routes (common random numbers).
    """

    share_max: float = 0.5
    dwell_s: float = 1.0
    seed: int = 1

    def __post_init__(self) -> None:
        AntagonistParams(self.share_max, self.dwell_s, self.seed)  # the same checks

    def fault(self, target: str, index: int) -> Fault:
        params = AntagonistParams(self.share_max, self.dwell_s, self.seed + index)
        return Fault(0.0, target, "antagonist", None, tuple(dataclasses.asdict(params).items()))


@dataclass(frozen=True)
class SyntheticFleet:
    """``backends`` targets alike but for ``slow_fraction`` of them, ``slow_factor`` times slower.

    In a suite file: ``fleet = { synthetic = { backends = 1000, slow_fraction = 0.05 } }``;
    with ``antagonist = { share_max = 0.5, dwell_s = 1 }`` each backend's machine also
    runs a tenant taking a changing share of its CPU.
    """

    backends: int
    capacity: int = DEFAULT_CAPACITY
    latency: Latency = DEFAULT_LATENCY_MODEL
    slow_fraction: float = 0.0
    slow_factor: float = 10.0
    antagonist: Antagonist | None = None

    def __post_init__(self) -> None:
        check_number("backends", self.backends, low=1, integer=True)
        check_number("capacity", self.capacity, low=1, integer=True)
        check_number("slow_fraction", self.slow_fraction, low=0.0, high=1.0)
        check_number("slow_factor", self.slow_factor, low=0.0, low_open=True)

    def profile(self) -> FleetProfile:
        """The fleet: the slow ones spread evenly through the ids (so that no strategy gains
        from their position), at least one as soon as the fraction is above zero (5 % of 10
        backends is one slow backend, not none)."""
        backends, latency = self.backends, self.latency
        slow_count = 0 if self.slow_fraction == 0 else max(1, round(backends * self.slow_fraction))
        slow = {math.floor((i + 0.5) * backends / slow_count) for i in range(slow_count)}
        width = len(str(backends - 1))
        slow_latency = latency.scaled(self.slow_factor)
        targets = tuple(
            TargetSpec(
                id=f"b{i:0{width}d}",
                capacity=self.capacity,
                latency=slow_latency if i in slow else latency,
            )
            for i in range(backends)
        )
        name = f"synthetic-{backends}"
        description = f"{backends} backends, capacity {self.capacity}, latency {latency.describe()}"
        if slow_count:
            name += f"-{slow_count}slow-x{self.slow_factor:g}"
            description += f"; {slow_count} of them {self.slow_factor:g}x slower"
        faults: tuple[Fault, ...] = ()
        antagonist = self.antagonist
        if antagonist is not None:
            faults = tuple(antagonist.fault(t.id, i) for i, t in enumerate(targets))
            name += f"-antagonist{antagonist.share_max:g}-{antagonist.dwell_s:g}s"
            description += (
                f"; each machine's CPU shared with a tenant taking up to "
                f"{antagonist.share_max:g} of it, changing every {antagonist.dwell_s:g} s"
            )
        return FleetProfile(name, description, targets, faults)


def synthetic_fleet(
    backends: int,
    *,
    capacity: int = DEFAULT_CAPACITY,
    latency: Latency = DEFAULT_LATENCY_MODEL,
    slow_fraction: float = 0.0,
    slow_factor: float = 10.0,
) -> FleetProfile:
    """The profile of a ``SyntheticFleet``."""
    return SyntheticFleet(backends, capacity, latency, slow_fraction, slow_factor).profile()


def fleet_capacity_rps(profile: FleetProfile) -> float:
    """Requests per second the fleet serves flat out (capacity / mean service time, summed)."""
    return sum(t.capacity / t.latency.mean_s() for t in profile.targets)


def rate_for_utilization(
    profile: FleetProfile, utilization: float, where: str = "--utilization"
) -> float:
    """The offered rate that keeps the fleet ``utilization`` busy if perfectly balanced."""
    check_number(where, utilization, low=0.0, low_open=True)
    capacity = fleet_capacity_rps(profile)
    if not (capacity > 0 and math.isfinite(capacity)):
        raise ConfigError(where, "needs targets with a finite mean service time")
    return utilization * capacity
