"""What a failover policy may do to the router that runs it: the whole of it, in one place.

A policy gets this when it is made (``FailoverPolicy.router``) and acts
only through it; the router implements it. Everything a policy does comes
back to the driver as actions of the router entry point that called the
policy (every entry point returns its actions), so nothing a hook does is
lost, and a policy can be unit-tested against a small fake of this
interface without a router.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lbbench.core.backends import BackendState
    from lbbench.core.records import Attempt, Request


class Limits(Protocol):
    """What of the router's configuration a policy reads (``RouterConfig`` has it)."""

    @property
    def deadline_s(self) -> float: ...

    @property
    def max_pending(self) -> int: ...


class PolicyContext(Protocol):
    """The router as a failover policy sees it."""

    rng: random.Random
    backends: dict[str, BackendState]

    @property
    def config(self) -> Limits:
        """The router's configuration, as far as a policy reads it."""

    # -- acting
    def arm(self, at: float, owner: Any, kind: str, ref: Any, tag: Any = None) -> None:
        """Have ``owner.on_timer(timer, now)`` called once the clock reaches ``at``."""

    def send(self, request: Request, now: float, extra: bool = False) -> bool:
        """Send an attempt of ``request`` where the strategy picks; False if nowhere."""

    def time_out(self, attempt: Attempt, now: float) -> None:
        """Give up on one attempt (its own timeout), failing over if it was the last."""

    def finish(
        self, request: Request, now: float, status: str | None = None, backend_id: str | None = None
    ) -> None:
        """Answer ``request`` (by default with its latest failure)."""

    # -- telling
    def count(self, name: str) -> None:
        """One more of a failover counter (``lbbench.vocabulary.Counter``)."""

    def note(self, now: float, backend: BackendState, kind: str, detail: str) -> None:
        """Record a health event of ``backend``."""

    def pools_changed(self) -> None:
        """Some backend's eligibility changed: rebuild the pools before the next pick."""

    # -- looking
    def refresh_pools(self) -> None:
        """Rebuild the pools now if anything changed (before reading ``joined``)."""

    @property
    def joined(self) -> tuple[BackendState, ...]:
        """Every joined backend, as of the latest pool rebuild."""

    @property
    def pending(self) -> int:
        """Requests received and not yet answered."""
