"""eject: outlier ejection (Envoy's outlier_detection) and active health from heartbeats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from lbbench.checks import check_number
from lbbench.core.backends import BackendState
from lbbench.core.failover.base import FailoverPolicy, register
from lbbench.vocabulary import OK, TIMEOUT, Counter, Health

if TYPE_CHECKING:
    from lbbench.core.actions import Timer
    from lbbench.core.records import Attempt

TICK = "tick"  # the periodic heartbeat and latency check
UNEJECT = "uneject"  # an ejection's end


@dataclass(frozen=True)
class EjectConfig:
    """Outlier ejection and active health (Envoy outlier_detection + health checks).

    A backend is ejected after ``consecutive_failures`` failed attempts in a
    row or, when ``latency_factor`` > 0, when its latency EWMA exceeds that
    factor times the fleet median. Ejection lasts ``base_ejection_s`` x the
    number of times it was ejected, at most ``max_ejection_s``. That count
    starts again once the backend has stayed in for longer than
    ``max_ejection_s``; with ``decay_interval_s`` > 0 it drops instead by one
    for every such interval the backend stays in (Envoy's outlier detector
    does so at every ``interval`` sweep, so a backend ejected again soon after
    its return is out for little more than the base time). A try the
    balancer timed out itself (per-try timeout, deadline) counts as a failure
    unless ``timeouts_fail`` is false: HAProxy's ``observe layer7`` judges
    only what a server answers, and its own 504 on a timeout is not that; at most
    ``max_ejected_fraction`` of backends (always at least one, never the last)
    are out at once. Heartbeats are checked every ``heartbeat_interval_s``:
    down after ``heartbeat_down_after`` silent intervals, up after
    ``heartbeat_up_after`` heard ones.
    """

    PATH: ClassVar[str] = "failover.eject"
    consecutive_failures: int = 5
    base_ejection_s: float = 1.0
    max_ejection_s: float = 30.0
    max_ejected_fraction: float = 0.5
    latency_factor: float = 0.0
    latency_min_samples: int = 20
    heartbeat_interval_s: float = 0.1
    heartbeat_down_after: int = 3
    heartbeat_up_after: int = 2
    decay_interval_s: float = 0.0
    timeouts_fail: bool = True

    def __post_init__(self) -> None:
        p = self.PATH
        check_number(f"{p}.consecutive_failures", self.consecutive_failures, low=1, integer=True)
        check_number(f"{p}.base_ejection_s", self.base_ejection_s, low=0.0, low_open=True)
        check_number(f"{p}.max_ejection_s", self.max_ejection_s, low=self.base_ejection_s)
        check_number(f"{p}.max_ejected_fraction", self.max_ejected_fraction, low=0.0, high=1.0)
        if self.latency_factor != 0:
            check_number(f"{p}.latency_factor", self.latency_factor, low=1.0, low_open=True)
        check_number(f"{p}.latency_min_samples", self.latency_min_samples, low=1, integer=True)
        check_number(f"{p}.heartbeat_interval_s", self.heartbeat_interval_s, low=0.0, low_open=True)
        check_number(f"{p}.heartbeat_down_after", self.heartbeat_down_after, low=1, integer=True)
        check_number(f"{p}.heartbeat_up_after", self.heartbeat_up_after, low=1, integer=True)
        check_number(f"{p}.decay_interval_s", self.decay_interval_s, low=0.0)


class _Health:
    """What eject knows of one backend: its failures, ejections and heartbeats."""

    __slots__ = (
        "consecutive_failures",
        "ejected",
        "ejected_until",
        "ejections",
        "hb_misses",
        "hb_seen",
        "hb_successes",
        "hb_up",
        "last_uneject_at",
    )

    def __init__(self) -> None:
        self.consecutive_failures = 0
        self.ejected = False
        self.ejected_until = 0.0
        self.ejections = 0
        self.last_uneject_at = -math.inf
        self.hb_up = True
        self.hb_misses = 0
        self.hb_successes = 0
        self.hb_seen = False


def ejection_seconds(config: EjectConfig, health: _Health, now: float) -> float:
    """How long the next ejection lasts (and count it).

    As Envoy does: base x the number of ejections in a row, capped. The count
    starts again once the backend has stayed in for longer than the cap, or
    drops by one for every ``decay_interval_s`` it stayed in (Envoy's rule).
    """
    stayed = now - health.last_uneject_at
    decay = config.decay_interval_s
    if math.isinf(stayed):
        health.ejections = 0
    elif decay > 0.0:
        health.ejections = max(0, health.ejections - int(stayed / decay))
    elif stayed > config.max_ejection_s:
        health.ejections = 0
    health.ejections += 1
    return min(config.max_ejection_s, config.base_ejection_s * health.ejections)


def may_eject(config: EjectConfig, joined: int, ejected: int) -> bool:
    """Whether one more ejection keeps within the limits.

    At most ``max_ejected_fraction`` of joined backends are out (at least one
    may always be, as in Envoy), and never the last one in.
    """
    limit = max(1, int(config.max_ejected_fraction * joined))
    return ejected + 1 <= limit and joined - ejected - 1 >= 1


def heartbeat_verdict(config: EjectConfig, health: _Health) -> bool | None:
    """Fold one heartbeat interval in; return the new ``hb_up`` if it changed.

    An interval in which at least one heartbeat arrived is a success, one
    without is a miss: down after ``heartbeat_down_after`` misses in a row, up
    after ``heartbeat_up_after`` successes in a row.
    """
    heard = health.hb_seen
    health.hb_seen = False
    if heard:
        health.hb_misses = 0
        health.hb_successes += 1
        if not health.hb_up and health.hb_successes >= config.heartbeat_up_after:
            health.hb_up = True
            return True
    else:
        health.hb_successes = 0
        health.hb_misses += 1
        if health.hb_up and health.hb_misses >= config.heartbeat_down_after:
            health.hb_up = False
            return False
    return None


class Eject(FailoverPolicy):
    """Outlier ejection with growing ejection times, and heartbeat health.

    Passive: consecutive failed attempts (or, with ``latency_factor``, a
    latency EWMA far above the fleet median) eject a backend for a while,
    longer each time it happens again; the ejected fraction is capped and
    the last backend is never ejected. Active: every interval, a backend
    whose heartbeats stopped is marked down, and up again once they return.
    """

    name = "eject"
    summary = "outlier ejection (consecutive failures, slow outliers) and heartbeat health"
    rank = 20
    Settings = EjectConfig
    needs_heartbeats = True

    def __init__(self, settings: EjectConfig, router) -> None:
        super().__init__(settings, router)
        self._health: dict[BackendState, _Health] = {}
        self._ejected = 0

    def _of(self, backend: BackendState) -> _Health:
        health = self._health.get(backend)
        if health is None:
            health = self._health[backend] = _Health()
        return health

    def start(self, now: float) -> None:
        for backend in self.router.backends.values():
            self._of(backend)
        self.router.arm(now + self.settings.heartbeat_interval_s, self, TICK, None)

    # -- passive: failures
    def on_attempt_done(self, attempt: Attempt, outcome: str, latency: float, now: float) -> None:
        backend = attempt.backend
        health = self._health[backend]  # made when it joined or when eject started
        if outcome == OK:
            health.consecutive_failures = 0
            return
        if outcome == TIMEOUT and not self.settings.timeouts_fail:
            return  # not an answer of the backend's: neither a failure nor a success
        health.consecutive_failures += 1
        if health.consecutive_failures >= self.settings.consecutive_failures and backend.joined:
            self._eject(backend, now, f"{health.consecutive_failures} consecutive failures")

    def _eject(self, backend: BackendState, now: float, reason: str) -> None:
        health = self._of(backend)
        if health.ejected:
            return
        router = self.router
        if not may_eject(self.settings, len(router.joined), self._ejected):
            router.count(Counter.EJECTIONS_BLOCKED)
            return
        duration = ejection_seconds(self.settings, health, now)
        health.ejected = True
        health.ejected_until = now + duration
        self._ejected += 1
        router.count(Counter.EJECTIONS)
        router.pools_changed()
        router.note(now, backend, Health.EJECT, f"{reason}; out for {duration:.3f} s")
        router.arm(health.ejected_until, self, UNEJECT, backend, health.ejected_until)

    def _uneject(self, backend: BackendState, until: float, now: float) -> None:
        health = self._of(backend)
        if not health.ejected or health.ejected_until != until:
            return
        health.ejected = False
        health.last_uneject_at = now
        health.consecutive_failures = 0
        backend.samples = 0  # judge its latency afresh, not by the samples that ejected it
        self._ejected -= 1
        self.router.pools_changed()
        self.router.note(
            now, backend, Health.UNEJECT, "heartbeats up" if health.hb_up else "heartbeats down"
        )

    # -- active: heartbeats, and latency outliers on the same tick
    def on_heartbeat(self, backend: BackendState, now: float) -> None:
        self._of(backend).hb_seen = True

    def on_timer(self, timer: Timer, now: float) -> None:
        if timer.kind == UNEJECT:
            if self.active:
                self._uneject(timer.ref, timer.tag, now)
        elif self.active:  # TICK: a stopped policy's chain dies out
            self._tick(now)

    def _tick(self, now: float) -> None:
        router = self.router
        settings = self.settings
        router.refresh_pools()
        for backend in router.joined:
            verdict = heartbeat_verdict(settings, self._of(backend))
            if verdict is not None:
                router.pools_changed()
                router.note(
                    now,
                    backend,
                    Health.UP if verdict else Health.DOWN,
                    f"{settings.heartbeat_up_after} heartbeats heard"
                    if verdict
                    else f"{settings.heartbeat_down_after} heartbeats missed",
                )
        if settings.latency_factor > 0:
            self._latency_outliers(now)
        router.arm(now + settings.heartbeat_interval_s, self, TICK, None)

    def _latency_outliers(self, now: float) -> None:
        settings = self.settings
        measured = sorted(
            (b.latency_ewma, b.id)
            for b in self.router.joined
            if not self._of(b).ejected and b.samples >= settings.latency_min_samples
        )
        if len(measured) < 3:
            return  # with two, neither is an outlier of "the fleet"
        middle = measured[len(measured) // 2][0]
        for ewma, backend_id in reversed(measured):
            if ewma <= settings.latency_factor * middle:
                break
            self._eject(
                self.router.backends[backend_id],
                now,
                f"latency EWMA {ewma * 1e3:.2f} ms > {settings.latency_factor} x median "
                f"{middle * 1e3:.2f} ms",
            )

    # -- membership
    def on_join(self, backend: BackendState, now: float) -> None:
        health = self._of(backend)
        health.hb_up = True
        health.hb_misses = 0
        health.hb_seen = True

    def on_leave(self, backend: BackendState, now: float) -> None:
        health = self._of(backend)
        if health.ejected:
            health.ejected = False
            self._ejected -= 1

    # -- which backends may be used
    def admits(self, backend: BackendState) -> bool:
        health = self._health.get(backend)
        return health is None or not health.ejected

    def healthy(self, backend: BackendState) -> bool:
        health = self._health.get(backend)
        return health is None or health.hb_up

    def health(self, backend: BackendState) -> str | None:
        health = self._health.get(backend)
        if health is None:
            return None
        if health.ejected:
            return "ejected"
        return None if health.hb_up else "down"

    def describe(self, backend: BackendState) -> dict[str, Any]:
        health = self._health.get(backend)
        return {"ejections": health.ejections if health else 0}


register(Eject)
