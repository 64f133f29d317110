"""Health rules: circuit breaker, heartbeat verdicts, ejection length, tier loads.

These are pure functions and small state machines over BackendState; the
router decides when to apply them and what a change of health means for
the pools.
"""

from __future__ import annotations

from collections import deque

from lbbench.backends import BackendState
from lbbench.config import BreakerConfig, EjectConfig

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """A per-backend breaker: closed -> open -> half_open -> closed (or open again).

    Closed: every outcome enters a window of the last ``window`` outcomes;
    once ``min_requests`` are known and the failure ratio reaches the
    threshold, it opens. Open: the backend gets nothing until ``open_s`` has
    passed (the router arms the timer). Half-open: at most
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


def ejection_seconds(config: EjectConfig, backend: BackendState, now: float) -> float:
    """How long the next ejection of ``backend`` lasts (and count it).

    As Envoy does: base x the number of ejections in a row, capped. The count
    starts again once the backend has stayed in for longer than the cap.
    """
    if now - backend.last_uneject_at > config.max_ejection_s:
        backend.ejections = 0
    backend.ejections += 1
    return min(config.max_ejection_s, config.base_ejection_s * backend.ejections)


def may_eject(config: EjectConfig, joined: int, ejected: int) -> bool:
    """Whether one more ejection keeps within the limits.

    At most ``max_ejected_fraction`` of joined backends are out (at least one
    may always be, as in Envoy), and never the last one in.
    """
    limit = max(1, int(config.max_ejected_fraction * joined))
    return ejected + 1 <= limit and joined - ejected - 1 >= 1


def heartbeat_verdict(config: EjectConfig, backend: BackendState) -> bool | None:
    """Fold one heartbeat interval into the backend; return its new hb_up if it changed.

    An interval in which at least one heartbeat arrived is a success, one
    without is a miss: down after ``heartbeat_down_after`` misses in a row, up
    after ``heartbeat_up_after`` successes in a row.
    """
    heard = backend.hb_seen
    backend.hb_seen = False
    if heard:
        backend.hb_misses = 0
        backend.hb_successes += 1
        if not backend.hb_up and backend.hb_successes >= config.heartbeat_up_after:
            backend.hb_up = True
            return True
    else:
        backend.hb_successes = 0
        backend.hb_misses += 1
        if backend.hb_up and backend.hb_misses >= config.heartbeat_down_after:
            backend.hb_up = False
            return False
    return None


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
