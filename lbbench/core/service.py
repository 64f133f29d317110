"""A target's service queue: capacity C, first come first served, faults applied.

Shared by the live target (``lbbench.target``) and the simulator
(``lbbench.sim``), so both model a server the same way: up to
``capacity`` jobs are in service at once and the rest wait in arrival
order; each job's service time comes from the caller (a latency model)
times the slow factor in force; a partitioned (``drop``, ``flap``) or
hanging target takes jobs and never answers; a stalled one stops starting
jobs until the stall ends; a job cancelled while waiting is never served.

It also answers probes as Prequal's servers do: requests in flight (RIF)
and a latency estimate for a request arriving now, the median latency of
the last few jobs that arrived to the same RIF (the nearest RIF with any,
when none did). A server-wide average would say how it was, not how it is
at this load: a probe of a backend with three jobs queued would report the
latency of its quiet moments.

The queue keeps no clock of its own: the caller passes ``now`` and owns
the timers. When a job starts, ``start(done_at, job)`` is called; the
caller calls ``finish(job, done_at)`` once ``done_at`` is reached, with
``done_at`` itself rather than the time it noticed: the next job waiting
then starts when the last one ended, so a late timer (the live target's
event loop busy with other messages) does not push back every job behind
it, which is what a real server of this capacity would do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

from lbbench.core.fault_state import FaultState

# A job in service: (key, work, arrived, RIF it arrived to). ``work`` is
# whatever the caller needs to answer it (and to draw its service time from).
Job = tuple[Hashable, Any, float, int]

RIF_WINDOW = 8  # latencies kept per RIF; a probe reports their median


class ServiceQueue:
    __slots__ = (
        "_order",
        "_waiting",
        "_by_rif",
        "busy",
        "capacity",
        "faults",
        "service_time",
        "start",
    )

    def __init__(
        self,
        capacity: int,
        faults: FaultState,
        service_time: Callable[[Any], float],
        start: Callable[[float, Job], None],
    ) -> None:
        self.capacity = capacity
        self.faults = faults
        self.service_time = service_time  # work -> seconds, before the slow factor
        self.start = start
        self.busy = 0
        # time in the target (wait + service), seconds, of recent jobs by the RIF they found
        self._by_rif: dict[int, deque[float]] = {}
        self._waiting: dict[Hashable, tuple[Any, float, int]] = {}
        self._order: deque[Hashable] = deque()

    @property
    def in_flight(self) -> int:
        """Jobs in service or waiting (what a probe reports)."""
        return self.busy + len(self._waiting)

    def offer(self, key: Hashable, work: Any, now: float) -> bool:
        """A job arrives; False when it will never be answered (dropped or hung)."""
        faults = self.faults
        if not faults.healthy:
            if faults.hanging or faults.dropping(now):
                return False
            if faults.stalled:
                self._wait(key, work, now)
                return True
        if self.busy < self.capacity and not self._order:
            # Straight into service: the common case, without the waiting line.
            rif = self.busy
            self.busy += 1
            factor = 1.0 if faults.healthy else faults.factor_at(now)
            self.start(now + self.service_time(work) * factor, (key, work, now, rif))
        else:
            self._wait(key, work, now)
            self.pump(now)
        return True

    def _wait(self, key: Hashable, work: Any, now: float) -> None:
        self._waiting[key] = (work, now, self.busy + len(self._waiting))
        self._order.append(key)

    def cancel(self, key: Hashable) -> bool:
        """Forget a job still waiting (one in service runs to its end)."""
        return self._waiting.pop(key, None) is not None

    def pump(self, now: float) -> None:
        """Start waiting jobs while there is room (also after a stall ends)."""
        if self.faults.stalled:
            return
        waiting = self._waiting
        order = self._order
        while self.busy < self.capacity and order:
            key = order.popleft()
            entry = waiting.pop(key, None)
            if entry is None:
                continue  # cancelled while waiting
            self.busy += 1
            work, arrived, rif = entry
            # A job never starts before it arrived: the live target passes
            # the scheduled end of the job before (which its late timer may
            # have passed already), so the queue's clock is the model's.
            began = now if now > arrived else arrived
            faults = self.faults
            factor = 1.0 if faults.healthy else faults.factor_at(began)
            self.start(began + self.service_time(work) * factor, (key, work, arrived, rif))

    def finish(self, job: Job, now: float) -> bool:
        """A job's service ended; True if it is answered (not dropped or hanging now)."""
        self.busy -= 1
        window = self._by_rif.get(job[3])
        if window is None:
            window = self._by_rif[job[3]] = deque(maxlen=RIF_WINDOW)
        window.append(now - job[2])
        faults = self.faults
        answered = faults.healthy or not (faults.hanging or faults.dropping(now))
        if self._order:
            self.pump(now)
        return answered

    def latency_estimate(self) -> float:
        """What a request arriving now would take, in seconds (0.0 before any job ended)."""
        by_rif = self._by_rif
        if not by_rif:
            return 0.0
        rif = self.in_flight
        window = by_rif.get(rif)
        if window is None:
            nearest = min(by_rif, key=lambda seen: abs(seen - rif))
            window = by_rif[nearest]
        ordered = sorted(window)
        return ordered[len(ordered) // 2]
