"""Backends: the static description of a target and the balancer's live view of it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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


class BackendState:
    """The balancer's live view of one backend: load, latency and counts.

    Only the router mutates it (strategies and failover policies read it;
    each failover policy keeps its own health state, such as ejections or
    a circuit breaker, in a table of its own). ``latency_ewma`` is a
    time-decayed average: a sample's weight is ``1 - exp(-dt / tau)``, so
    the average covers about ``tau`` seconds whatever the request rate, with
    a floor (``min_alpha``) so that samples arriving at the same instant
    still count.
    """

    __slots__ = (
        "backend",
        "id",
        "weight",
        "tier",
        "in_flight",
        "latency_ewma",
        "_ewma_at",
        "_ewma_tau",
        "_min_alpha",
        "samples",
        "sent",
        "ok",
        "errors",
        "timeouts",
        "cancelled",
        "joined",
        "pool",
    )

    def __init__(
        self, backend: Backend, *, ewma_tau_s: float = 1.0, min_alpha: float = 0.02
    ) -> None:
        self.backend = backend
        self.id = backend.id
        self.weight = backend.weight
        self.tier = backend.tier
        self.in_flight = 0
        self.latency_ewma = 0.0
        self._ewma_at = -math.inf
        self._ewma_tau = ewma_tau_s
        self._min_alpha = min_alpha
        self.samples = 0
        self.sent = 0
        self.ok = 0
        self.errors = 0
        self.timeouts = 0
        self.cancelled = 0
        self.joined = True
        self.pool: Any = None  # the Pool this backend is currently a member of

    def observe_latency(self, latency: float, now: float) -> None:
        """Fold one latency sample (seconds) into the time-decayed EWMA."""
        if self.samples == 0:
            self.latency_ewma = latency
        else:
            alpha = 1.0 - math.exp(-(now - self._ewma_at) / self._ewma_tau)
            if alpha < self._min_alpha:
                alpha = self._min_alpha
            self.latency_ewma += alpha * (latency - self.latency_ewma)
        self._ewma_at = now
        self.samples += 1

    def __repr__(self) -> str:
        return f"BackendState({self.id!r}, in_flight={self.in_flight}, joined={self.joined})"
