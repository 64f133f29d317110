"""What the Balancer tab and the result show: shares against fair shares, health, tails."""

from __future__ import annotations

from typing import Any

from lbbench.core.strategies import STRATEGIES
from lbbench.results.measures import fairness
from lbbench.results.recorder import Recorder, summarize


def expected_shares(stats: dict[str, Any]) -> dict[str, float]:
    """Fair shares of the backends the balancer knows: by weight (weighted
    strategies) or equal, over the first tier only (backups should idle)."""
    backends = [b for b in stats["backends"] if b["health"] != "left"] or stats["backends"]
    strategy = STRATEGIES.get(stats.get("strategy", ""))
    weighted = strategy.weighted if strategy is not None else True
    if not backends:
        return {}
    first = min(b["tier"] for b in backends)
    total = sum(b["weight"] if weighted else 1 for b in backends if b["tier"] == first)
    return {
        b["id"]: ((b["weight"] if weighted else 1) / total if b["tier"] == first else 0.0)
        for b in stats["backends"]
    }


def view(stats: dict[str, Any], recorder: Recorder) -> dict[str, Any]:
    expected = expected_shares(stats)
    attempts = {b["id"]: b["sent"] for b in stats["backends"]}
    total = sum(attempts.values())
    return {
        "balancer": stats.get("balancer", "lbbench"),
        "strategies": sorted(STRATEGIES),
        "strategy": stats.get("strategy"),
        "failover": stats.get("failover"),
        "settings": stats.get("settings", {}),
        "backends": [
            {
                "backend": b["id"],
                "health": b["health"],
                "inflight": b["in_flight"],
                "attempts": b["sent"],
                "share": attempts[b["id"]] / total if total else 0.0,
                "expected": expected.get(b["id"], 0.0),
                "errors": b["errors"] + b["timeouts"],
                "served": recorder.served_by.get(b["id"], 0),
            }
            for b in stats["backends"]
        ],
        "fairness": fairness(attempts, expected) if total else None,
        "requests": {"sent": recorder.sent, **dict(recorder.outcomes)},
        "latency_ms": {
            "corrected": summarize(recorder.corrected),
            "uncorrected": summarize(recorder.uncorrected),
        },
    }
