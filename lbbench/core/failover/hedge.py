"""hedge: a second attempt after a delay; the first reply wins."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lbbench.checks import check_number
from lbbench.core.failover.base import FailoverPolicy, register
from lbbench.core.failover.budget import RetryBudget
from lbbench.vocabulary import OK, Counter

if TYPE_CHECKING:
    from lbbench.core.actions import Timer
    from lbbench.core.records import Attempt, Request

HEDGE = "hedge"


@dataclass(frozen=True)
class HedgeConfig:
    """Hedged requests (Dean & Barroso, "The Tail at Scale").

    A second attempt goes out ``delay_s`` after the first, or, when
    ``delay_s`` is unset, after the ``percentile`` of recent latencies (using
    ``initial_delay_s`` until ``min_samples`` replies are known). At most one
    extra attempt per request; hedges may be at most ``budget_ratio`` of
    requests.
    """

    PATH: ClassVar[str] = "failover.hedge"
    delay_s: float | None = None
    percentile: float = 95.0
    min_samples: int = 50
    initial_delay_s: float = 0.05
    budget_ratio: float = 0.1

    def __post_init__(self) -> None:
        p = self.PATH
        if self.delay_s is not None:
            check_number(f"{p}.delay_s", self.delay_s, low=0.0)
        check_number(f"{p}.percentile", self.percentile, low=0.0, high=100.0, low_open=True)
        check_number(f"{p}.min_samples", self.min_samples, low=1, integer=True)
        check_number(f"{p}.initial_delay_s", self.initial_delay_s, low=0.0)
        check_number(f"{p}.budget_ratio", self.budget_ratio, low=0.0, high=1.0)


class HedgeDelay:
    """When to send a hedge: a fixed delay or a percentile of recent latencies.

    Keeps the last ``window`` successful latencies sorted (insertion is cheap
    at this size) and reads the percentile from them; until ``min_samples``
    are known the configured initial delay is used.
    """

    def __init__(self, config: HedgeConfig, window: int = 1000) -> None:
        self.config = config
        self._recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []

    def observe(self, latency: float) -> None:
        if self.config.delay_s is not None:
            return
        if len(self._recent) == self._recent.maxlen:
            oldest = self._recent[0]
            del self._sorted[bisect_left(self._sorted, oldest)]
        self._recent.append(latency)
        insort(self._sorted, latency)

    def delay(self) -> float:
        config = self.config
        if config.delay_s is not None:
            return config.delay_s
        known = len(self._sorted)
        if known < config.min_samples:
            return config.initial_delay_s
        rank = min(known - 1, int(config.percentile / 100.0 * known))
        return self._sorted[rank]


class Hedge(FailoverPolicy):
    """One extra attempt when the first is slow; the first reply wins, the loser is cancelled.

    Each request that went out arms one hedge timer, at the configured
    delay or the latency percentile (if that is before its deadline). When
    it fires and the request has exactly one attempt out (not failed, not
    waiting for a retry), a second attempt goes to another backend, if the
    hedge budget allows. The router cancels whichever attempt loses.
    """

    name = "hedge"
    summary = "a second attempt after a delay (fixed or a latency percentile); first reply wins"
    rank = 40
    Settings = HedgeConfig

    def __init__(self, settings: HedgeConfig, router) -> None:
        super().__init__(settings, router)
        self.budget = RetryBudget(settings.budget_ratio, 1, 10.0)
        self.delay = HedgeDelay(settings)

    def on_request(self, request: Request, now: float) -> None:
        self.budget.deposit(now)

    def on_dispatched(self, request: Request, now: float) -> None:
        at = now + self.delay.delay()
        if at < request.deadline:
            self.router.arm(at, self, HEDGE, request)

    def on_attempt_done(self, attempt: Attempt, outcome: str, latency: float, now: float) -> None:
        if outcome == OK:
            self.delay.observe(latency)
            if attempt.extra:
                self.router.count(Counter.HEDGE_WINS)

    def on_timer(self, timer: Timer, now: float) -> None:
        request: Request = timer.ref
        if not self.active or request.done or request.live != 1 or request.waiting:
            return
        router = self.router
        if not self.budget.withdraw(now):
            router.count(Counter.BUDGET_EXHAUSTED)
            return
        if router.send(request, now, extra=True):
            router.count(Counter.HEDGES)


register(Hedge)
