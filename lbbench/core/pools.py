"""Which backends a pick may choose from (eligibility, panic, pools drawn by share), and the pick.

Rebuilt only when membership or some backend's health changed. A backend
is eligible when every policy in force admits it (not ejected, circuit
not open) and finds it healthy (heartbeats); in panic, when too few are
healthy, health verdicts are ignored and every admitted backend is
eligible. A partitioning policy (priority tiers) splits the eligible ones
into pools drawn by share; otherwise there is one pool whose universe is
every joined backend (its identity survives health changes, so hashing
strategies keep their tables).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lbbench.core.backends import BackendState
from lbbench.core.records import Request
from lbbench.core.strategies import Pool, Strategy

Check = Callable[[BackendState], bool]


@dataclass
class PoolSet:
    """The pools of one rebuild, their cumulative shares, and the healthy count behind them."""

    pools: list[Pool]
    cumulative: list[float]
    healthy: int
    panic: bool

    def in_order(self, draw: Callable[[], float]) -> list[Pool]:
        """The pools to try for one pick: one drawn by its share first, then the rest."""
        pools = self.pools
        if len(pools) <= 1:
            return pools
        u = draw()
        for index, bound in enumerate(self.cumulative):
            if u < bound:
                return [pools[index], *pools[:index], *pools[index + 1 :]]
        return pools


def build_pools(
    joined: tuple[BackendState, ...],
    admits: Sequence[Check],
    healthy_checks: Sequence[Check],
    partition: Callable[..., Any] | None,
    panic_threshold: float,
) -> PoolSet:
    """The pools for the joined backends under the policies' verdicts."""
    admitted = [b for b in joined if all(a(b) for a in admits)] if admits else list(joined)
    healthy = (
        [b for b in admitted if all(h(b) for h in healthy_checks)] if healthy_checks else admitted
    )
    panic = panic_threshold > 0 and len(healthy) < panic_threshold * len(joined)
    members = admitted if panic else healthy
    for backend in joined:
        backend.pool = None
    if partition is None:
        shares = [(Pool(members, joined), 1.0)] if members else []
    else:
        shares = [(p, s) for p, s in partition(members, joined) if s > 0 and p.members]
    total = sum(share for _, share in shares)
    cumulative = []
    running = 0.0
    for _, share in shares:
        running += share / total
        cumulative.append(running)
    pools = [pool for pool, _ in shares]
    for pool in pools:
        for backend in pool.members:
            backend.pool = pool
    return PoolSet(pools, cumulative, len(healthy), panic)


_NOTHING: frozenset[BackendState] = frozenset()


def choose(
    pools: list[Pool], strategy: Strategy, request: Request, now: float
) -> BackendState | None:
    """The backend for an attempt of ``request``: the strategy's pick, pool by pool.

    A retry or hedge goes to a backend not tried yet; failing that, to any
    but the one that just failed; only a lone backend is tried again.
    """
    if not pools:
        return None
    last = request.last
    if last is None:  # the first attempt
        for pool in pools:
            chosen = strategy.pick(pool, request, now)
            if chosen is not None:
                return chosen
        return None
    tried = {attempt.backend for attempt in request.attempts}
    for exclude in (tried, {last}, _NOTHING):
        for pool in pools:
            chosen = strategy.pick_excluding(pool, request, now, exclude)
            if chosen is not None:
                return chosen
    return None
