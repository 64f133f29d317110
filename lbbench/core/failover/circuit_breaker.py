"""circuit_breaker: per backend, closed -> open on failures -> half-open trials -> closed."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lbbench.checks import check_number
from lbbench.core.backends import BackendState
from lbbench.core.failover.base import FailoverPolicy, register
from lbbench.vocabulary import OK, Health

if TYPE_CHECKING:
    from lbbench.core.actions import Timer
    from lbbench.core.records import Attempt

CLOSED = Health.CLOSED
OPEN = Health.OPEN
HALF_OPEN = Health.HALF_OPEN


@dataclass(frozen=True)
class BreakerConfig:
    """Per-backend circuit breaker (closed, open, half-open), as in Hystrix/resilience4j.

    Opens when, among the last ``window`` outcomes (at least ``min_requests``),
    the failure ratio reaches ``failure_ratio``; stays open ``open_s``; then
    lets ``half_open_trials`` requests through at once: that many successes
    close it, one failure opens it again.
    """

    PATH: ClassVar[str] = "failover.circuit_breaker"
    window: int = 20
    min_requests: int = 10
    failure_ratio: float = 0.5
    open_s: float = 1.0
    half_open_trials: int = 3

    def __post_init__(self) -> None:
        p = self.PATH
        check_number(f"{p}.window", self.window, low=1, integer=True)
        check_number(f"{p}.min_requests", self.min_requests, low=1, high=self.window, integer=True)
        check_number(f"{p}.failure_ratio", self.failure_ratio, low=0.0, high=1.0, low_open=True)
        check_number(f"{p}.open_s", self.open_s, low=0.0, low_open=True)
        check_number(f"{p}.half_open_trials", self.half_open_trials, low=1, integer=True)


class CircuitBreaker:
    """A per-backend breaker: closed -> open -> half_open -> closed (or open again).

    Closed: every outcome enters a window of the last ``window`` outcomes;
    once ``min_requests`` are known and the failure ratio reaches the
    threshold, it opens. Open: the backend gets nothing until ``open_s`` has
    passed (the policy arms the timer). Half-open: at most
    ``half_open_trials`` requests at once; that many successes in a row close
    it, any failure opens it again.
    """

    __slots__ = ("config", "opened_at", "outcomes", "state", "trial_successes", "trials_in_flight")

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state = CLOSED
        self.outcomes: deque[bool] = deque(maxlen=config.window)
        self.trials_in_flight = 0
        self.trial_successes = 0
        self.opened_at = 0.0

    def admits(self) -> bool:
        """May a new request go to this backend now?"""
        if self.state == CLOSED:
            return True
        return self.state == HALF_OPEN and self.trials_in_flight < self.config.half_open_trials

    def on_send(self) -> None:
        if self.state == HALF_OPEN:
            self.trials_in_flight += 1

    def on_done(self, ok: bool, now: float, was_trial: bool) -> str | None:
        """Record an outcome; return the new state if it changed."""
        if self.state == HALF_OPEN:
            if not was_trial:
                return None  # a straggler from before the breaker opened
            self.trials_in_flight -= 1
            if not ok:
                return self._open(now)
            self.trial_successes += 1
            if self.trial_successes >= self.config.half_open_trials:
                self.state = CLOSED
                self.outcomes.clear()
                return CLOSED
            return None
        if self.state == OPEN:
            return None
        self.outcomes.append(ok)
        known = len(self.outcomes)
        if known >= self.config.min_requests:
            failures = known - sum(self.outcomes)
            if failures >= self.config.failure_ratio * known:
                return self._open(now)
        return None

    def on_cancel(self, was_trial: bool) -> None:
        if was_trial and self.state == HALF_OPEN:
            self.trials_in_flight -= 1

    def half_open(self) -> str:
        self.state = HALF_OPEN
        self.trials_in_flight = 0
        self.trial_successes = 0
        return HALF_OPEN

    def _open(self, now: float) -> str:
        self.state = OPEN
        self.opened_at = now
        self.outcomes.clear()
        return OPEN


class CircuitBreakerPolicy(FailoverPolicy):
    """One circuit breaker per backend: traffic stops while it is open, then trickles back.

    An open backend gets nothing; after ``open_s`` it is half-open and
    takes at most ``half_open_trials`` requests at once (trials); they
    decide whether it closes or opens again. Attempts sent before it
    opened and answered after do not count.
    """

    name = "circuit_breaker"
    summary = "per-backend breaker: closed, open on failure ratio, half-open trials"
    rank = 30
    Settings = BreakerConfig

    def __init__(self, settings: BreakerConfig, router) -> None:
        super().__init__(settings, router)
        self._breakers: dict[BackendState, CircuitBreaker] = {}
        self._trials: set[int] = set()  # attempt ids sent as half-open trials

    def breaker(self, backend: BackendState) -> CircuitBreaker:
        breaker = self._breakers.get(backend)
        if breaker is None:
            breaker = self._breakers[backend] = CircuitBreaker(self.settings)
        return breaker

    def start(self, now: float) -> None:
        for backend in self.router.backends.values():
            self.breaker(backend)

    def on_join(self, backend: BackendState, now: float) -> None:
        self.breaker(backend)

    def on_send(self, attempt: Attempt, now: float) -> None:
        breaker = self._breakers[attempt.backend]  # made when it joined or when this started
        if breaker.state == HALF_OPEN:
            self._trials.add(attempt.aid)
            breaker.on_send()
            if not breaker.admits():
                self.router.pools_changed()  # its trial slots are taken: out of the pools for now

    def on_attempt_done(self, attempt: Attempt, outcome: str, latency: float, now: float) -> None:
        backend = attempt.backend
        breaker = self._breakers[backend]
        trial = bool(self._trials) and attempt.aid in self._trials
        if trial:
            self._trials.discard(attempt.aid)
        change = breaker.on_done(outcome == OK, now, trial)
        router = self.router
        if trial:
            router.pools_changed()
        if change is not None:
            router.pools_changed()
            router.note(now, backend, change, "")
            if change == OPEN:
                router.arm(now + breaker.config.open_s, self, OPEN, backend, now)

    def on_attempt_cancelled(self, attempt: Attempt, now: float) -> None:
        if attempt.aid in self._trials:
            self._trials.discard(attempt.aid)
            self.breaker(attempt.backend).on_cancel(True)
            self.router.pools_changed()

    def on_timer(self, timer: Timer, now: float) -> None:
        backend: BackendState = timer.ref
        breaker = self._breakers.get(backend)
        if (
            self.active
            and breaker is not None
            and breaker.state == OPEN
            and breaker.opened_at == timer.tag
        ):
            breaker.half_open()
            self.router.pools_changed()
            self.router.note(now, backend, HALF_OPEN, f"after {now - timer.tag:.3f} s open")

    def admits(self, backend: BackendState) -> bool:
        breaker = self._breakers.get(backend)
        return breaker is None or breaker.admits()

    def health(self, backend: BackendState) -> str | None:
        breaker = self._breakers.get(backend)
        return None if breaker is None or breaker.state == CLOSED else str(breaker.state)


register(CircuitBreakerPolicy)
