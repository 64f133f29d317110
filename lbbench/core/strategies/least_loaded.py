"""Load-aware strategies on a backend's load as the router's view gives it.

That load (``BackendState.load``) is the router's own count of its requests
in flight (view "local", the default), or what the backend last reported
(view "reports": every balancer sharing the fleet counted, but stale).
"""

from __future__ import annotations

import random

from lbbench.checks import check_number
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
    views = ("local", "reports")
    summary = "fewest in-flight per unit weight; ties by smooth weighted round robin"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._ties = SmoothWeights()

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        best_load = -1
        best_weight = 1
        tied: list[BackendState] = []
        for backend in pool.members:
            load = backend.load
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
    """Power of d choices (Mitzenmacher; Envoy's least_request ``choice_count``, HAProxy's
    ``random(d)``), two by default.

    Rule: draw ``choice_count`` distinct backends uniformly at random and send
    to the one with the fewest requests in flight per unit of weight, counting
    the request about to be sent: (in_flight + 1) / weight. On a tie the
    earliest draw wins, which is itself random. With n requests over n
    backends the most loaded holds about ln ln n / ln d of them instead of
    random's ln n / ln ln n (the supermarket model: most of the gain is in
    going from one choice to two). One choice is uniform random; as many
    choices as backends is least connections (a random one among the tied).
    Cost O(d).

    ``distinct = false`` draws with replacement, as Envoy's least_request and
    HAProxy's ``random(d)`` do (NGINX's ``random two`` draws distinct ones):
    with two draws over n backends, one pick in n is the same backend twice,
    a random pick, which a slow backend feels (docs/proxies.md).
    """

    name = "p2c"
    views = ("local", "reports")
    summary = "d random backends (2 by default), the one with fewer in-flight per weight wins"

    def __init__(self, rng: random.Random, *, choice_count: int = 2, distinct: bool = True) -> None:
        super().__init__(rng)
        check_number("strategy_options.choice_count", choice_count, low=1, integer=True)
        self.choice_count = choice_count
        self.distinct = distinct

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        n = len(members)
        if n == 1:
            return members[0]
        d = self.choice_count
        if not self.distinct:  # Envoy's way: each draw from all, the first wins a tie
            rand = self.rng.random
            best = members[int(rand() * n)]
            for _ in range(d - 1):
                other = members[int(rand() * n)]
                if (other.load + 1) * best.weight < (best.load + 1) * other.weight:
                    best = other
            return best
        if d == 2:  # the common case, drawn as it always was (seeded runs stay the same)
            a, b = two_distinct(members, self.rng.random)
            if (b.load + 1) * a.weight < (a.load + 1) * b.weight:
                return b
            return a
        rand = self.rng.random
        if d >= n:  # every backend: start the scan anywhere, so ties go to a random one
            start = int(rand() * n)
            best = members[start]
            for k in range(1, n):
                other = members[(start + k) % n]
                if (other.load + 1) * best.weight < (best.load + 1) * other.weight:
                    best = other
            return best
        best = members[int(rand() * n)]
        if d == 1:
            return best
        drawn = {id(best)}
        while len(drawn) < d:  # distinct draws; d < n, so this ends quickly for small d
            other = members[int(rand() * n)]
            if id(other) in drawn:
                continue
            drawn.add(id(other))
            if (other.load + 1) * best.weight < (best.load + 1) * other.weight:
                best = other
        return best


register(LeastConnections)
register(PowerOfTwoChoices)
