"""Load-blind strategies: round robin, random, weighted random."""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate

from lbbench.core.backends import BackendState
from lbbench.core.strategies.base import Pool, RequestView, Strategy, register


class RoundRobin(Strategy):
    """Each pick takes the next backend in order, cycling.

    Rule: pick ``members[i mod n]`` and advance ``i``. Over k x n picks on a
    stable pool every backend gets exactly k requests; weights are ignored.
    The cycle starts at a random offset (as Envoy does) so that many
    balancers started together do not hit the same backend in lock-step.
    Cost O(1).
    """

    name = "round_robin"
    weighted = False
    summary = "next backend in order, cycling; exactly even, ignores weights and load"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._next = rng.randrange(1 << 30)

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        self._next += 1
        return members[self._next % len(members)]


class UniformRandom(Strategy):
    """Each pick is a backend chosen uniformly at random.

    Rule: ``members[floor(u * n)]`` for u uniform in [0, 1). The classic
    balls-into-bins baseline: throwing n requests at n backends this way
    leaves the most loaded with about ln n / ln ln n of them, where p2c
    leaves about ln ln n / ln 2. Cost O(1).
    """

    name = "random"
    weighted = False
    summary = "uniformly random backend; the balls-into-bins baseline"

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        return members[int(self.rng.random() * len(members))]


class WeightedRandom(Strategy):
    """Each pick is random with probability proportional to the backend's weight.

    Rule: draw u uniform in [0, total weight) and take the backend whose
    cumulative-weight interval holds u (binary search over the cumulative
    weights, cached per pool). Expected shares equal weight / total; cost
    O(log n).
    """

    name = "weighted_random"
    summary = "random, with probability proportional to weight"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._pool: Pool | None = None
        self._cumulative: list[int] = []

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        if pool.uniform:
            return members[int(self.rng.random() * len(members))]
        if pool is not self._pool:
            self._pool = pool
            self._cumulative = list(accumulate(m.weight for m in members))
        u = self.rng.random() * pool.total_weight
        return members[bisect_right(self._cumulative, u)]


register(RoundRobin)
register(UniformRandom)
register(WeightedRandom)
