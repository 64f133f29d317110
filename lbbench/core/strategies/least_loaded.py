"""Load-aware strategies on the balancer's own count of requests in flight."""

from __future__ import annotations

import random

from lbbench.core.backends import BackendState
from lbbench.core.strategies.base import Pool, RequestView, Strategy, register, two_distinct
from lbbench.core.strategies.weighted_rr import SmoothWeights


class LeastConnections(Strategy):
    """Weighted least connections (NGINX ``least_conn``).

    Rule: pick the backend with the fewest requests in flight per unit of
    weight (in_flight / weight, compared by cross-multiplication so that no
    float rounding decides). Ties, common at low load when everything is
    idle, are broken by smooth weighted round robin among the tied backends,
    as NGINX does, so neither the first backend nor the lighter weights are
    favoured. Cost O(n) per pick.
    """

    name = "least_connections"
    summary = "fewest in-flight per unit weight; ties by smooth weighted round robin"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._ties = SmoothWeights()

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        best_load = -1
        best_weight = 1
        tied: list[BackendState] = []
        for backend in pool.members:
            load = backend.in_flight
            weight = backend.weight
            order = -1 if best_load < 0 else load * best_weight - best_load * weight
            if order < 0:
                best_load, best_weight = load, weight
                tied = [backend]
            elif order == 0:
                tied.append(backend)
        if len(tied) == 1:
            return tied[0]
        return self._ties.pick(tied)


class PowerOfTwoChoices(Strategy):
    """Power of two choices (Mitzenmacher; Envoy's least_request with choice_count 2).

    Rule: draw two distinct backends uniformly at random and send to the one
    with fewer requests in flight per unit of weight, counting the request
    about to be sent: (in_flight + 1) / weight. On a tie the first draw wins,
    which is itself random. With n requests over n backends the most loaded
    holds about ln ln n / ln 2 of them instead of random's ln n / ln ln n.
    Cost O(1).
    """

    name = "p2c"
    summary = "two random backends, the one with fewer in-flight per weight wins"

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        if len(members) == 1:
            return members[0]
        a, b = two_distinct(members, self.rng.random)
        if (b.in_flight + 1) * a.weight < (a.in_flight + 1) * b.weight:
            return b
        return a


register(LeastConnections)
register(PowerOfTwoChoices)
