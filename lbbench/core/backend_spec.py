"""What a backend is (its id, weight and tier): checked where it comes in.

Its own module, outside the compiled core (setup.py): peers and files
give these values, and a wrong one must end in a ConfigError naming the
field, which a compiled class's attribute type checks would pre-empt with
a bare TypeError. Made on joins only, so nothing is lost by not compiling it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lbbench.errors import ConfigError

# A target id is a peer's ZeroMQ routing id, and it ends up in logs, tables,
# HTML pages and file names: a short safe alphabet keeps every one of those
# from having to escape it (a peer once joined as ``<img onerror=...>``).
ID_MAX_CHARS = 64
ID_ALPHABET = "letters, digits and . _ : -"
_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{ID_MAX_CHARS}}}")
ID_MAX_BYTES = ID_MAX_CHARS  # the alphabet is ASCII: one byte a character


def id_problem(value: object) -> str | None:
    """Why ``value`` cannot be a target id, or None when it can."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > ID_MAX_CHARS:
        return f"must be at most {ID_MAX_CHARS} characters, got {len(value)}"
    if _ID.fullmatch(value) is None:
        return f"must use only {ID_ALPHABET}, got {value[:ID_MAX_CHARS]!r}"
    return None


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
        problem = id_problem(self.id)
        if problem is not None:
            raise ConfigError("backend.id", problem)
        where = f"backend {self.id!r}"
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
