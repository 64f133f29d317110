"""retry: another backend after a failure, within an attempt limit and a retry budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lbbench.checks import check_number
from lbbench.core.failover.base import FailoverPolicy, register
from lbbench.core.failover.budget import RetryBudget, jittered_backoff
from lbbench.vocabulary import Counter

if TYPE_CHECKING:
    from lbbench.core.actions import Timer
    from lbbench.core.records import Attempt, Request

TRY = "try"  # an attempt's own timeout (always now + per_try_timeout_s: in order)
BACKOFF = "backoff"  # a retry waiting out its backoff


@dataclass(frozen=True)
class RetryConfig:
    """Retry on another backend (Envoy/Finagle semantics).

    ``max_attempts`` counts the first try. The budget allows, within a
    sliding ``budget_window_s``, at most max(``budget_min_retries``,
    ``budget_ratio`` x requests) retries, so a total outage multiplies load
    by at most 1 + ratio once traffic exceeds the small minimum.
    """

    PATH: ClassVar[str] = "failover.retry"
    max_attempts: int = 3
    # 0.5, not Linkerd's 0.2: with one dead backend of four, round robin sends
    # it a quarter of all picks, retries included, so a third of requests need
    # a retry; 0.5 still caps a total outage at 1.5x the load.
    budget_ratio: float = 0.5
    budget_min_retries: int = 10
    budget_window_s: float = 10.0
    backoff_base_s: float = 0.001
    backoff_max_s: float = 0.025
    per_try_timeout_s: float = 0.25

    def __post_init__(self) -> None:
        p = self.PATH
        check_number(f"{p}.max_attempts", self.max_attempts, low=1, integer=True)
        check_number(f"{p}.budget_ratio", self.budget_ratio, low=0.0)
        check_number(f"{p}.budget_min_retries", self.budget_min_retries, low=0, integer=True)
        check_number(f"{p}.budget_window_s", self.budget_window_s, low=0.0, low_open=True)
        check_number(f"{p}.backoff_base_s", self.backoff_base_s, low=0.0)
        check_number(f"{p}.backoff_max_s", self.backoff_max_s, low=self.backoff_base_s)
        check_number(f"{p}.per_try_timeout_s", self.per_try_timeout_s, low=0.0, low_open=True)


class Retry(FailoverPolicy):
    """Retry on a different backend: attempt limit, retry budget, jittered backoff, per-try timeout.

    When every attempt of a request has failed (an error, a per-try
    timeout, a send that could not be delivered), and the request has
    attempts left, time before its deadline and the budget allows, it is
    sent again after a full-jitter exponential backoff, to a backend it
    has not tried (the router's pick rule for every extra attempt).
    """

    name = "retry"
    summary = "retry on a different backend: attempt limit, retry budget, jittered backoff"
    rank = 50
    Settings = RetryConfig
    in_order_timers = frozenset({TRY})

    def __init__(self, settings: RetryConfig, router) -> None:
        super().__init__(settings, router)
        self.budget = RetryBudget(
            settings.budget_ratio, settings.budget_min_retries, settings.budget_window_s
        )
        self._per_try_s = settings.per_try_timeout_s

    def on_request(self, request: Request, now: float) -> None:
        self.budget.deposit(now)

    def on_send(self, attempt: Attempt, now: float) -> None:
        at = now + self._per_try_s
        if at < attempt.request.deadline:
            self.router.arm(at, self, TRY, attempt)

    def on_failure(self, request: Request, now: float) -> bool:
        settings = self.settings
        if not self.active or request.tries >= settings.max_attempts:
            return False
        router = self.router
        delay = jittered_backoff(
            router.rng, request.tries, settings.backoff_base_s, settings.backoff_max_s
        )
        if now + delay >= request.deadline:
            return False
        if not self.budget.withdraw(now):
            router.count(Counter.BUDGET_EXHAUSTED)
            return False
        router.count(Counter.RETRIES)
        if delay > 0.0:
            request.waiting = True
            router.arm(now + delay, self, BACKOFF, request)
            return True
        return router.send(request, now)

    def on_timer(self, timer: Timer, now: float) -> None:
        if timer.kind == TRY:
            attempt: Attempt = timer.ref
            if not attempt.done:
                self.router.time_out(attempt, now)
        else:  # BACKOFF: even after a switch away from retry, a waiting request goes out
            request: Request = timer.ref
            if not request.done and request.waiting:
                request.waiting = False
                if not self.router.send(request, now):
                    self.router.finish(request, now)


register(Retry)
