"""What a backend is (its id, weight and tier): checked where it comes in.

Its own module, outside the compiled core (setup.py): peers and files
give these values, and a wrong one must end in a ConfigError naming the
field, which a compiled class's attribute type checks would pre-empt with
a bare TypeError. Made on joins only, so nothing is lost by not compiling it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbbench.errors import ConfigError

ID_MAX_BYTES = 255  # ZeroMQ routing ids are at most 255 bytes


@dataclass(frozen=True, slots=True)
class Backend:
    """What a target is, independent of how it is doing.

    ``weight`` is its relative capacity (an integer >= 1); ``tier`` is its
    priority level for primary/backup failover (0 = primary, 1 = first
    backup, ...).
    """

    id: str
    weight: int = 1
    tier: int = 0

    def __post_init__(self) -> None:
        where = f"backend {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError("backend.id", "must be a non-empty string")
        if len(self.id.encode()) > ID_MAX_BYTES:
            raise ConfigError(f"{where}.id", f"must be at most {ID_MAX_BYTES} bytes")
        if isinstance(self.weight, bool) or not isinstance(self.weight, int) or self.weight < 1:
            raise ConfigError(f"{where}.weight", f"must be an integer >= 1, got {self.weight!r}")
        if isinstance(self.tier, bool) or not isinstance(self.tier, int) or self.tier < 0:
            raise ConfigError(f"{where}.tier", f"must be an integer >= 0, got {self.tier!r}")


def check_unique_ids(backends: list[Backend] | tuple[Backend, ...], where: str = "targets") -> None:
    """Raise a ConfigError naming the first id that appears twice."""
    seen: set[str] = set()
    for backend in backends:
        if backend.id in seen:
            raise ConfigError(where, f"duplicate backend id {backend.id!r}")
        seen.add(backend.id)
