"""What one mock target is: its id, weight, tier, capacity and service-time model.

In the core because the target model (``target_model``) is made from it,
and the live targets and the simulator all make theirs from the same
spec; fleet profiles (``lbbench.scenario.profiles``) are lists of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbbench.checks import check_number
from lbbench.core.backend_spec import Backend, id_problem
from lbbench.core.latency import Latency
from lbbench.errors import ConfigError

DEFAULT_CAPACITY = 4
DEFAULT_LATENCY_MODEL = Latency("exponential", (("mean_ms", 2.0),))


@dataclass(frozen=True)
class TargetSpec:
    """One mock target: identity, weight and tier, capacity and service-time model."""

    id: str
    weight: int = 1
    tier: int = 0
    capacity: int = DEFAULT_CAPACITY
    latency: Latency = DEFAULT_LATENCY_MODEL

    def __post_init__(self) -> None:
        problem = id_problem(self.id)
        if problem is not None:
            raise ConfigError("id", problem)
        check_number("weight", self.weight, low=1, integer=True)
        check_number("tier", self.tier, low=0, integer=True)
        check_number("capacity", self.capacity, low=1, integer=True)

    def backend(self) -> Backend:
        return Backend(self.id, self.weight, self.tier)
