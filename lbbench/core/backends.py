"""Backends: the static description of a target and the balancer's live view of it."""

from __future__ import annotations

import math
from typing import Any

# (re-exported: the rest of the code imports them from here)
from lbbench.core.backend_spec import ID_MAX_BYTES, Backend, check_unique_ids  # noqa: F401


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
        "load",
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
        # What load-aware strategies read: the router's own in-flight count (view
        # "local"), or the backend's load as last reported to it (view "reports").
        self.load = 0
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
