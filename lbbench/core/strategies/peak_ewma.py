"""Peak EWMA: latency-aware power of two choices, as Finagle and Linkerd do it."""

from __future__ import annotations

import math
import random

from lbbench.checks import check_number
from lbbench.core.backends import BackendState
from lbbench.core.strategies.base import Pool, RequestView, Strategy, register, two_distinct

# Finagle scores a backend with requests in flight but no latency history
# this high, so it is tried only when nothing measured is available.
_PENALTY = float(1 << 47)


class PeakCost:
    """Finagle's peak-sensitive EWMA of round-trip time for one backend.

    A sample above the current cost replaces it at once (peaks are believed
    immediately); a lower one is blended in with weight ``1 - exp(-dt/tau)``
    where dt is the time since the last observation. Reading the cost first
    observes a zero sample, so a backend that has not been used for a while
    decays towards zero and gets probed again.
    """

    __slots__ = ("cost", "stamp")

    def __init__(self, now: float) -> None:
        self.cost = 0.0
        self.stamp = now

    def observe(self, rtt: float, now: float, tau: float) -> None:
        dt = now - self.stamp
        if dt < 0.0:
            dt = 0.0
        if rtt > self.cost:
            self.cost = rtt
        else:
            w = math.exp(-dt / tau)
            self.cost = self.cost * w + rtt * (1.0 - w)
        self.stamp = now


class PeakEwma(Strategy):
    """Peak EWMA with power of two choices (Finagle ``Balancers.p2cPeakEwma``).

    Rule: keep a peak-sensitive EWMA of each backend's latency (jumps up at
    once on a slow sample, decays with time constant ``decay_s``, Finagle's
    default being 10 s); score = cost x (in_flight + 1); draw two distinct
    random backends and send to the lower score. A backend with requests in
    flight but no history scores a large penalty. Weights divide the score.
    Cost O(1).
    """

    name = "peak_ewma"
    views = ("local", "reports")
    summary = "P2C on latency EWMA (peak-sensitive, decaying) x (in-flight + 1)"

    def __init__(self, rng: random.Random, *, decay_s: float = 10.0) -> None:
        super().__init__(rng)
        check_number("strategy_options.decay_s", decay_s, low=0.0, low_open=True)
        self.tau = float(decay_s)
        self._costs: dict[BackendState, PeakCost] = {}

    def score(self, backend: BackendState, now: float) -> float:
        metric = self._costs.get(backend)
        if metric is None:
            metric = self._costs[backend] = PeakCost(now)
        metric.observe(0.0, now, self.tau)
        pending = backend.load
        if metric.cost == 0.0 and pending != 0:
            return (_PENALTY + pending) / backend.weight
        return metric.cost * (pending + 1) / backend.weight

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        if len(members) == 1:
            return members[0]
        a, b = two_distinct(members, self.rng.random)
        if self.score(b, now) < self.score(a, now):
            return b
        return a

    def on_done(self, backend: BackendState, latency: float, ok: bool, now: float) -> None:
        metric = self._costs.get(backend)
        if metric is None:
            metric = self._costs[backend] = PeakCost(now)
        metric.observe(latency, now, self.tau)


register(PeakEwma)
