"""Prequal-style probing: pick by probed requests-in-flight and latency."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from typing import Any

from lbbench.checks import check_number
from lbbench.core.backends import BackendState
from lbbench.core.strategies.base import (
    NO_EXCLUSIONS,
    Pool,
    RequestView,
    Strategy,
    register,
    two_distinct,
)


class _Probe:
    __slots__ = ("at", "backend", "in_flight", "latency", "uses")

    def __init__(self, backend: BackendState, in_flight: float, latency: float, at: float) -> None:
        self.backend = backend
        self.in_flight = in_flight
        self.latency = latency
        self.at = at
        self.uses = 0


class Probing(Strategy):
    """Prequal: probing to reduce queuing and latency (Wydrowski et al., NSDI 2024).

    Rule: with every request, ``probes_per_request`` probes (fractions
    accumulate) go to backends drawn at random; each reply reports the
    backend's own requests in flight (RIF) and its latency estimate, and
    joins a pool of at most ``pool_size`` recent probes (the newest per
    backend; the oldest is evicted when full; probes older than
    ``max_age_s`` or used ``max_reuse`` times are dropped). A pick applies
    the hot-cold lexicographic rule: probes whose RIF is above the
    ``hot_quantile`` of the pool's RIFs are hot; among the cold ones the
    lowest latency wins (then the lowest RIF), so a hot backend is never
    chosen while a cold one is known. The chosen probe's RIF is raised by
    one, since this request now adds to it. With no usable probe it falls
    back to two random choices on the balancer's own in-flight count. Cost
    O(pool_size), independent of the number of backends.
    """

    name = "probing"
    summary = "Prequal-style: probes backends' in-flight and latency, avoids hot ones"

    def __init__(
        self,
        rng: random.Random,
        *,
        probes_per_request: float = 1.0,
        pool_size: int = 16,
        max_age_s: float = 0.5,
        max_reuse: int = 3,
        hot_quantile: float = 0.8,
    ) -> None:
        super().__init__(rng)
        check_number("strategy_options.probes_per_request", probes_per_request, low=0.0, high=16)
        check_number("strategy_options.pool_size", pool_size, low=1, high=4096, integer=True)
        check_number("strategy_options.max_age_s", max_age_s, low=0.0, low_open=True)
        check_number("strategy_options.max_reuse", max_reuse, low=1)
        check_number("strategy_options.hot_quantile", hot_quantile, low=0.0, high=1.0)
        self.probes_per_request = float(probes_per_request)
        self.pool_size = int(pool_size)
        self.max_age_s = float(max_age_s)
        self.max_reuse = int(max_reuse)
        self.hot_quantile = float(hot_quantile)
        self._pool: list[_Probe] = []
        self._credit = 0.0
        self.fallbacks = 0

    def probes(self, pool: Pool, now: float) -> Sequence[BackendState]:
        self._credit += self.probes_per_request
        count = int(self._credit)
        if count == 0:
            return ()
        self._credit -= count
        members = pool.members
        if count >= len(members):
            return members
        return self.rng.sample(members, count)

    def on_probe(self, backend: BackendState, in_flight: int, latency: float, now: float) -> None:
        probes = self._pool
        for i, probe in enumerate(probes):
            if probe.backend is backend:
                del probes[i]
                break
        if len(probes) >= self.pool_size:
            oldest = min(range(len(probes)), key=lambda k: probes[k].at)
            del probes[oldest]
        probes.append(_Probe(backend, float(in_flight), latency, now))

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState | None:
        return self.pick_excluding(pool, request, now, NO_EXCLUSIONS)

    def pick_excluding(
        self,
        pool: Pool,
        request: RequestView,
        now: float,
        exclude: Collection[BackendState],
    ) -> BackendState | None:
        oldest_allowed = now - self.max_age_s
        members = pool.member_set
        self._pool = fresh = [
            p for p in self._pool if p.at >= oldest_allowed and p.backend in members
        ]
        usable = [p for p in fresh if p.backend not in exclude] if exclude else fresh
        if not usable:
            self.fallbacks += 1
            return self._fallback(pool, request, now, exclude)
        rifs = sorted(p.in_flight for p in usable)
        threshold = rifs[int(self.hot_quantile * (len(rifs) - 1))]
        chosen: _Probe | None = None
        for probe in usable:
            if probe.in_flight > threshold:
                continue  # hot
            if chosen is None or (probe.latency, probe.in_flight) < (
                chosen.latency,
                chosen.in_flight,
            ):
                chosen = probe
        assert chosen is not None  # the threshold is one of the RIFs, so one is cold
        chosen.in_flight += 1.0
        chosen.uses += 1
        if chosen.uses >= self.max_reuse:
            fresh.remove(chosen)
        return chosen.backend

    def _fallback(
        self,
        pool: Pool,
        request: RequestView,
        now: float,
        exclude: Collection[BackendState],
    ) -> BackendState | None:
        members = [m for m in pool.members if m not in exclude] if exclude else pool.members
        if not members:
            return None
        if len(members) == 1:
            return members[0]
        a, b = two_distinct(tuple(members), self.rng.random)
        return b if (b.in_flight + 1) * a.weight < (a.in_flight + 1) * b.weight else a

    def status(self) -> dict[str, Any]:
        return {"probe_pool": len(self._pool), "fallbacks": self.fallbacks}


register(Probing)
