"""Smooth weighted round robin, exactly as NGINX's upstream module does it."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lbbench.core.backends import BackendState
from lbbench.core.strategies.base import Pool, RequestView, Strategy, register


class SmoothWeights:
    """NGINX's smooth weighted round robin over any subset of backends.

    Each pick adds every candidate's weight to its current weight, takes the
    candidate with the largest current weight (the first one on ties), and
    subtracts the candidates' total weight from the winner. Weights 5,1,1 give
    the cycle a a b a c a a: the heavy backend's turns are spread through the
    cycle instead of bunched. Current weights persist per backend, so the same
    instance can also break ties among a changing subset (least_connections).
    """

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: dict[BackendState, int] = {}

    def pick(self, candidates: Sequence[BackendState]) -> BackendState:
        current = self.current
        total = 0
        best: BackendState | None = None
        best_weight = 0
        for backend in candidates:
            weight = backend.weight
            value = current.get(backend, 0) + weight
            current[backend] = value
            total += weight
            if best is None or value > best_weight:
                best = backend
                best_weight = value
        assert best is not None
        current[best] = best_weight - total
        return best


class WeightedRoundRobin(Strategy):
    """Smooth weighted round robin (NGINX ngx_http_upstream_round_robin).

    Rule: on each pick every backend's current weight grows by its weight;
    the largest current weight wins and loses the total weight. Over one
    cycle of (sum of weights) picks each backend gets exactly its weight in
    turns, interleaved: 5,1,1 gives a a b a c a a and 5,1,2 gives
    a c a a b a c a. Cost O(n) per pick, as in NGINX; O(1) when all
    weights are equal (then the rule is plain round robin).
    """

    name = "weighted_round_robin"
    summary = "smooth weighted round robin as NGINX does it; exact shares by weight"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._weights = SmoothWeights()
        self._cursor = -1

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState:
        members = pool.members
        if pool.uniform:
            # Equal weights: the smooth rule takes the members in order, which
            # is plain round robin; this O(1) path keeps big fleets cheap.
            self._cursor = cursor = (self._cursor + 1) % len(members)
            return members[cursor]
        return self._weights.pick(members)


register(WeightedRoundRobin)
