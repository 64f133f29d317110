"""primary_backup: priority tiers; backups take traffic only while primaries fall short."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from lbbench.checks import check_number
from lbbench.core.backends import BackendState
from lbbench.core.failover.base import FailoverPolicy, register
from lbbench.core.strategies import Pool


@dataclass(frozen=True)
class TierConfig:
    """Primary/backup tiers with Envoy's priority-load rule.

    Tier k takes min(100 %, ``overprovisioning`` x its healthy fraction) of
    what the tiers before it leave over, so backups take traffic only while
    healthy primaries fall short (factor 1.4: once fewer than about 71 % of
    primaries are healthy) and give it back as they recover.
    """

    PATH: ClassVar[str] = "failover.primary_backup"
    overprovisioning: float = 1.4

    def __post_init__(self) -> None:
        check_number(f"{self.PATH}.overprovisioning", self.overprovisioning, low=1.0)


def tier_loads(healthy_fractions: list[float], overprovisioning: float) -> list[float]:
    """Envoy's priority load: the share of traffic each tier takes, summing to 1.

    Tier k's health is min(1, overprovisioning x healthy fraction); it takes
    that much of what the tiers before it left. When even the sum of all
    health is below 1, shares are normalised over the health there is.
    """
    health = [min(1.0, overprovisioning * f) for f in healthy_fractions]
    total = sum(health)
    if total <= 0.0:
        return [0.0] * len(health)
    if total < 1.0:
        return [h / total for h in health]
    loads: list[float] = []
    left = 1.0
    for h in health:
        take = min(h, left)
        loads.append(take)
        left -= take
    return loads


class PrimaryBackup(FailoverPolicy):
    """Priority tiers (a backend's ``tier``: 0 primary, 1 first backup, ...).

    The eligible backends are split into one pool per tier; each pick
    draws a tier by Envoy's priority load, so the backups' share grows only
    as the primaries' healthy fraction falls below 1 / overprovisioning.
    Each tier's pool keeps every joined backend of the tier as its
    universe, so hashing strategies keep their tables across health changes.
    """

    name = "primary_backup"
    summary = "tiers: backups take traffic only while healthy primaries fall short"
    rank = 10
    Settings = TierConfig

    def __init__(self, settings: TierConfig, router) -> None:
        super().__init__(settings, router)
        self._joined: tuple[BackendState, ...] | None = None
        self._universes: list[tuple[BackendState, ...]] = []

    def partition(
        self, members: Sequence[BackendState], joined: tuple[BackendState, ...]
    ) -> list[tuple[Pool, float]]:
        if joined is not self._joined:  # membership changed: new tiers
            self._joined = joined
            tiers = sorted({b.tier for b in joined})
            self._universes = [tuple(b for b in joined if b.tier == t) for t in tiers]
        eligible = set(members)
        pools = [
            Pool([b for b in universe if b in eligible], universe) for universe in self._universes
        ]
        loads = tier_loads(
            [len(p.members) / len(p.universe) for p in pools], self.settings.overprovisioning
        )
        return [(pool, load) for pool, load in zip(pools, loads, strict=True)]


register(PrimaryBackup)
