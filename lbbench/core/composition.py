"""The failover policies in force, composed: which are on, and their hooks in order.

A router holds one ``Composition``. Taking a new configuration keeps every
policy whose mode stays on with the same settings (its state survives a
run-time switch), stops the ones switched off and creates the new ones.
The hook lists hold only the hooks a policy overrides, so a mode that
does not care about an event costs nothing on that event's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lbbench.core.config import FailoverConfig
from lbbench.core.failover import FAILOVER, FailoverPolicy, overrides

if TYPE_CHECKING:
    from lbbench.core.failover.context import PolicyContext

Hook = Callable[..., Any]


class Composition:
    """The policies in force (in registry order) and their hooks."""

    def __init__(self) -> None:
        self.policies: list[FailoverPolicy] = []
        self._set_hooks()

    def take(self, failover: FailoverConfig, router: PolicyContext) -> list[FailoverPolicy]:
        """Bring the policies in line with ``failover``; return the ones that came into force."""
        current = {p.name: p for p in self.policies}
        policies: list[FailoverPolicy] = []
        started: list[FailoverPolicy] = []
        for name, cls in FAILOVER.items():  # registry order is composition order
            if not failover.has(name):
                continue
            settings = failover.of(name)
            kept = current.pop(name, None)
            if kept is not None and kept.settings == settings:
                policies.append(kept)
                continue
            if kept is not None:
                kept.stop()
            policy = cls(settings, router)
            policies.append(policy)
            started.append(policy)
        for gone in current.values():
            gone.stop()
        self.policies = policies
        self._set_hooks()
        return started

    def _set_hooks(self) -> None:
        def hooks(name: str) -> list[Hook]:
            return [getattr(p, name) for p in self.policies if overrides(p, name)]

        self.accepts = hooks("accepts")
        self.on_request = hooks("on_request")
        self.on_dispatched = hooks("on_dispatched")
        self.on_send = hooks("on_send")
        self.on_attempt_done = hooks("on_attempt_done")
        self.on_attempt_cancelled = hooks("on_attempt_cancelled")
        self.on_failure = hooks("on_failure")
        self.admits = hooks("admits")
        self.healthy = hooks("healthy")
        partitions = hooks("partition")
        self.partition: Hook | None = partitions[0] if partitions else None
        self.on_join = hooks("on_join")
        self.on_leave = hooks("on_leave")
        self.on_heartbeat = hooks("on_heartbeat")
        self.health = hooks("health")
        self.describe = hooks("describe")

    @property
    def in_order_timers(self) -> frozenset[str]:
        kinds: frozenset[str] = frozenset()
        for policy in self.policies:
            kinds |= policy.in_order_timers
        return kinds

    @property
    def needs_heartbeats(self) -> bool:
        return any(p.needs_heartbeats for p in self.policies)

    def policy(self, name: str) -> FailoverPolicy | None:
        return next((p for p in self.policies if p.name == name), None)
