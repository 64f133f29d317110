"""What the router shows people: a health word per backend, and a snapshot of everything.

The snapshot is the balancer's ``stats`` answer and what results are
built from (``lbbench.results.trial.RouterView``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lbbench.core.backends import BackendState

if TYPE_CHECKING:
    from lbbench.core.router import Router


def health_word(
    backend: BackendState, words: Sequence[Callable[[BackendState], str | None]]
) -> str:
    """left, the first word a policy has for it (ejected, down, open, half_open), or healthy."""
    if not backend.joined:
        return "left"
    for word_of in words:
        word = word_of(backend)
        if word:
            return word
    return "healthy"


def snapshot(router: Router) -> dict[str, Any]:
    """Counters, health and strategy state, for the stats endpoint and results."""
    backends = []
    for b in router.backends.values():
        row = {
            "id": b.id,
            "weight": b.weight,
            "tier": b.tier,
            "health": router.health_of(b),
            "in_flight": b.in_flight,
            "sent": b.sent,
            "ok": b.ok,
            "errors": b.errors,
            "timeouts": b.timeouts,
            "cancelled": b.cancelled,
            "latency_ewma_s": b.latency_ewma,
        }
        for describe in router.hooks.describe:
            row.update(describe(b))
        backends.append(row)
    return {
        "strategy": router.config.strategy,
        "failover": router.config.failover.label,
        "pending": router.pending,
        "panic": router.panic,
        "stats": router.stats.as_dict(),
        "rif_counts": router.stats.rif_counts(),
        "strategy_status": router.strategy.status(),
        "failover_status": {p.name: p.status() for p in router.policies if p.status()},
        "backends": backends,
    }
