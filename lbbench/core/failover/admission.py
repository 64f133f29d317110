"""admission: an adaptive limit on requests in flight; the excess is answered overloaded at once.

Without it, a balancer in front of an overloaded fleet sends every
request on, the targets' queues grow, and the requests at their heads
have waited most of their deadline before they are served: they time
out anyway, and the fleet's work is wasted (goodput collapses; the
overload suite shows it). A fixed ``max_pending`` sized to the fleet
avoids that, if you know the fleet's size and speed. This mode finds the
limit by itself, the way TCP finds a window (additive increase,
multiplicative decrease, as Netflix's concurrency-limits AIMD limiter
and Envoy's adaptive concurrency do): every attempt that times out or
takes longer than ``latency_share`` of the deadline (the sign of a
queue) multiplies the limit by ``backoff``; every faster one, while
at least half the limit is in use, adds one. A request that arrives
with the limit reached is answered ``overloaded`` at once.

It protects the whole fleet, not one backend: a target that hangs also
makes attempts time out, so pair it with ``eject`` (which takes that
target out) when single targets fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from lbbench.checks import check_number
from lbbench.core.failover.base import FailoverPolicy, register
from lbbench.vocabulary import TIMEOUT, Counter

if TYPE_CHECKING:
    from lbbench.core.records import Attempt


@dataclass(frozen=True)
class AdmissionConfig:
    """The adaptive limit on requests in flight (AIMD).

    Starts at ``initial_limit``, stays within ``min_limit`` and
    ``max_limit`` (and never above the router's ``max_pending``). An
    attempt that times out or takes longer than ``latency_share`` x the
    deadline multiplies the limit by ``backoff``; a faster one adds 1
    when at least half the limit is in use.
    """

    PATH: ClassVar[str] = "failover.admission"
    initial_limit: int = 20
    min_limit: int = 1
    max_limit: int = 10_000
    latency_share: float = 0.1
    backoff: float = 0.9

    def __post_init__(self) -> None:
        p = self.PATH
        check_number(f"{p}.min_limit", self.min_limit, low=1, integer=True)
        check_number(f"{p}.max_limit", self.max_limit, low=self.min_limit, integer=True)
        check_number(
            f"{p}.initial_limit",
            self.initial_limit,
            low=self.min_limit,
            high=self.max_limit,
            integer=True,
        )
        check_number(f"{p}.latency_share", self.latency_share, low=0.0, high=1.0, low_open=True)
        check_number(f"{p}.backoff", self.backoff, low=0.0, high=1.0, low_open=True)
        if self.backoff == 1.0:
            check_number(f"{p}.backoff", self.backoff, high=0.999)


class AdmissionPolicy(FailoverPolicy):
    """One limit for the whole router, moved by every attempt's outcome and latency;
    requests over it are refused before any backend is picked."""

    name = "admission"
    summary = "adaptive limit on requests in flight (AIMD); the excess answered overloaded"
    rank = 5  # decides before any pool or backend is looked at
    Settings = AdmissionConfig

    def __init__(self, settings: AdmissionConfig, router) -> None:
        super().__init__(settings, router)
        self.limit = float(settings.initial_limit)
        self.decreases = 0

    def accepts(self, now: float) -> bool:
        if not self.active or self.router.pending < int(self.limit):
            return True
        self.router.count(Counter.REFUSED)
        return False

    def on_attempt_done(self, attempt: Attempt, outcome: str, latency: float, now: float) -> None:
        if not self.active:
            return
        settings = self.settings
        router = self.router
        if outcome == TIMEOUT or latency > settings.latency_share * router.config.deadline_s:
            self.limit = max(float(settings.min_limit), self.limit * settings.backoff)
            self.decreases += 1
        elif 2 * router.pending >= self.limit:
            ceiling = min(settings.max_limit, router.config.max_pending)
            self.limit = min(float(ceiling), self.limit + 1.0)

    def status(self) -> dict[str, Any]:
        return {"limit": int(self.limit), "decreases": self.decreases}


register(AdmissionPolicy)
