"""Per-balancer figures of a trial with several balancers sharing the fleet.

The fleet's figures (latency, shares, failover counters) are over every
balancer; these say what each one did on its own and how far they agreed:
the requests each routed and how they ended, the attempts it sent, whom
it ejected, and how its spread of attempts over the backends differed from
the fleet's (total variation distance: 0 when it spread exactly as all of
them together did, 1 when it used none of the same backends).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lbbench.scenario.scenario import Scenario
from lbbench.vocabulary import Health


def balancer_figures(
    scenario: Scenario,
    snapshots: Sequence[Mapping[str, Any]],
    events: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """The ``balancers`` part of a trial: one row per balancer, and their agreement.

    ``snapshots`` are the routers' snapshots (``Router.snapshot``), ``events``
    their health events (``HealthEvent._asdict()``), in the balancers' order.
    """
    fleet: dict[str, int] = {}
    for snapshot in snapshots:
        for backend in snapshot["backends"]:
            fleet[backend["id"]] = fleet.get(backend["id"], 0) + backend["sent"]
    fleet_total = sum(fleet.values())
    rows = []
    ejected_by: dict[str, int] = {}
    distances = []
    for index, (snapshot, log) in enumerate(zip(snapshots, events, strict=True)):
        stats = snapshot["stats"]
        sent = {b["id"]: b["sent"] for b in snapshot["backends"]}
        total = sum(sent.values())
        if total and fleet_total:
            distance = 0.5 * sum(abs(sent[b] / total - fleet[b] / fleet_total) for b in fleet)
            distances.append(distance)
        else:
            distance = None
        ejected = sorted({e["backend"] for e in log if e["kind"] == Health.EJECT})
        for backend in ejected:
            ejected_by[backend] = ejected_by.get(backend, 0) + 1
        rows.append(
            {
                "balancer": index,
                "requests": stats["requests"],
                "outcomes": dict(stats["outcomes"]),
                "attempts": total,
                "ejections": stats.get("ejections", 0),
                "ejected": ejected,
                "spread_distance": distance,
            }
        )
    return {
        "count": len(snapshots),
        "split": scenario.balancers_split,
        "view": scenario.router_config().view,
        # the mean distance of a balancer's spread from the fleet's: 0 when they agree
        "spread_distance": sum(distances) / len(distances) if distances else None,
        "ejected_by": dict(sorted(ejected_by.items())),
        "rows": rows,
    }


def balancers_over_trials(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A scenario's summary of its trials' ``balancers`` parts: the mean distance, and how
    many balancers ejected each backend, summed over the trials."""
    distances = [p["spread_distance"] for p in parts if p["spread_distance"] is not None]
    ejected_by: dict[str, int] = {}
    for part in parts:
        for backend, count in part["ejected_by"].items():
            ejected_by[backend] = ejected_by.get(backend, 0) + count
    first = parts[0]
    return {
        "count": first["count"],
        "split": first["split"],
        "view": first["view"],
        "spread_distance": sum(distances) / len(distances) if distances else None,
        "ejected_by": dict(sorted(ejected_by.items())),
        "trials": len(parts),
    }
