"""Prequal-style probing: pick by probed requests-in-flight and latency."""

from __future__ import annotations

import math
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


def _worse(a: _Probe, b: _Probe, threshold: float) -> bool:
    """Whether probe ``a`` is a worse choice than ``b``: hot before cold, then by RIF among
    hot ones and by latency among cold ones."""
    a_hot = a.in_flight > threshold
    if a_hot != (b.in_flight > threshold):
        return a_hot
    return a.in_flight > b.in_flight if a_hot else a.latency > b.latency


class Probing(Strategy):
    """Prequal: probing to reduce queuing and latency (Wydrowski et al., NSDI 2024).

    Rule, as the paper gives it: with every request, ``probes_per_request``
    probes (fractions accumulate) go to backends drawn at random; the reply
    comes back later, asynchronously, and reports the backend's own
    requests in flight (RIF) and its estimate of the latency of a request
    arriving now (the median latency of its recent requests that arrived to
    the same RIF: ``ServiceQueue.latency_estimate``). Replies join a pool of
    at most ``pool_size`` probes (the newest per backend; the oldest evicted
    when full; older than ``max_age_s`` dropped). A pick applies the
    hot-cold lexicographic rule: a probe whose RIF is above the
    ``hot_quantile`` of the pool's RIFs is hot; among the cold ones the
    lowest latency wins (then the lowest RIF), so a hot backend is never
    chosen while a cold one is known. The chosen probe's RIF is raised by
    one (this request adds to it) and it is dropped after ``max_reuse``
    uses. After each pick ``remove_per_request`` probes (fractions
    accumulate) are removed, the worst first: the hottest if any is hot,
    else the slowest, so that the pool keeps the backends worth choosing.

    ``max_reuse`` 0 (the default) derives the reuse budget from the rates,
    as the paper does (the formula is ours; the paper's aim, a pool that
    does not run dry, is the one it serves): each request
    brings ``probes_per_request`` probes, of which about pool_size / fleet
    replace a probe of the same backend, and takes ``remove_per_request``
    plus 1 / reuse; the budget is the smallest whole number of uses that
    leaves a margin of one probe per request (at most ``pool_size``).

    With no usable probe it falls back to two random choices on the
    balancer's own in-flight count. Cost O(pool_size), independent of the
    number of backends.
    """

    name = "probing"
    # It learns the load by asking (its probes), whatever the view says: "probes" names
    # that, and "local" (every strategy's default) means the same here.
    views = ("local", "probes")
    summary = "Prequal: async probes of backends' in-flight and latency; hot-cold rule"

    def __init__(
        self,
        rng: random.Random,
        *,
        probes_per_request: float = 3.0,
        pool_size: int = 16,
        max_age_s: float = 0.5,
        max_reuse: int = 0,
        hot_quantile: float = 0.84,
        remove_per_request: float = 1.0,
    ) -> None:
        super().__init__(rng)
        check_number("strategy_options.probes_per_request", probes_per_request, low=0.0, high=16)
        check_number("strategy_options.pool_size", pool_size, low=1, high=4096, integer=True)
        check_number("strategy_options.max_age_s", max_age_s, low=0.0, low_open=True)
        check_number("strategy_options.max_reuse", max_reuse, low=0, integer=True)
        check_number("strategy_options.hot_quantile", hot_quantile, low=0.0, high=1.0)
        check_number("strategy_options.remove_per_request", remove_per_request, low=0.0, high=16)
        self.probes_per_request = float(probes_per_request)
        self.pool_size = int(pool_size)
        self.max_age_s = float(max_age_s)
        self.max_reuse = int(max_reuse)
        self.hot_quantile = float(hot_quantile)
        self.remove_per_request = float(remove_per_request)
        self._reuse = self.max_reuse or 1
        self._reuse_for = -1  # the fleet size the derived budget was computed for
        self._pool: list[_Probe] = []
        self._credit = 0.0
        self._removal_credit = 0.0
        self.fallbacks = 0

    def _reuse_budget(self, fleet: int) -> int:
        if self.max_reuse:
            return self.max_reuse
        if fleet != self._reuse_for:
            self._reuse_for = fleet
            replacing = min(1.0, self.pool_size / fleet)
            net = self.probes_per_request * (1.0 - replacing) - self.remove_per_request
            # uses needed so that net arrivals cover 1 / uses with a margin of one
            self._reuse = (
                self.pool_size if net <= 0 else min(self.pool_size, max(1, math.ceil(2.0 / net)))
            )
        return self._reuse

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
        same = -1
        oldest = 0
        for i in range(len(probes)):  # one pass: this backend's old probe, and the oldest
            probe = probes[i]
            if probe.backend is backend:
                same = i
            if probe.at < probes[oldest].at:
                oldest = i
        if same >= 0:
            del probes[same]
        elif len(probes) >= self.pool_size:
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
        if chosen.uses >= self._reuse_budget(len(members)):
            fresh.remove(chosen)
        self._remove_worst(fresh, threshold)
        return chosen.backend

    def _remove_worst(self, probes: list[_Probe], threshold: float) -> None:
        """Drop ``remove_per_request`` probes: the hottest while any is hot, else the slowest
        (the last probe stays: it is better than falling back blind)."""
        self._removal_credit += self.remove_per_request
        while self._removal_credit >= 1.0:
            self._removal_credit -= 1.0
            if len(probes) <= 1:
                continue
            worst = 0
            for k in range(1, len(probes)):
                if _worse(probes[k], probes[worst], threshold):
                    worst = k
            del probes[worst]

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
