"""Requests read from the frontend and not yet routed, each with the time it was read.

The balancer reads its frontend eagerly (reading is cheap) and routes
from this inbox as fast as it can. When it cannot keep up, requests wait
here, where their age is known, instead of inside ZeroMQ's queues, where
it is not: one that has waited longer than ``max_wait_s`` is answered
``overloaded`` rather than served late. And as in CoDel, a standing
queue is only delay: while the oldest request has waited more than
``TARGET_S`` and a new one would wait more than that too (behind the
requests already here, at the rate the balancer has been routing them),
the new one is answered ``overloaded`` at once. A burst shorter than
that target passes; a lasting overload leaves the requests served with a
few milliseconds of queue, and the rest answered without waiting.
Shedding costs a read
and a reply, a fraction of routing, so under overload the balancer
still reads everything, answers the excess quickly and routes what it
can (the goodput curve in docs/rig.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

# (time read, bytes, frames)
Entry = tuple[float, int, list[bytes]]


RATE_WEIGHT = 0.2  # of the latest measure in the routing rate's moving average
TARGET_S = 0.005  # CoDel's target: the queueing delay a lasting overload is held to


class Inbox:
    __slots__ = ("_entries", "_last_turn", "bytes", "max_wait_s", "rate")

    def __init__(self, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s
        self._entries: deque[Entry] = deque()
        self.bytes = 0
        self.rate = 0.0  # requests routed per second while there was a queue (0: unknown)
        self._last_turn: tuple[float, int] | None = None

    def routed(self, now: float, count: int) -> None:
        """``count`` requests were taken out for routing at ``now``: the drain rate, measured
        over consecutive turns of the loop that found requests waiting."""
        last = self._last_turn
        if last is not None and now > last[0]:
            rate = last[1] / (now - last[0])
            self.rate = rate if not self.rate else self.rate + RATE_WEIGHT * (rate - self.rate)
        self._last_turn = (now, count) if self._entries else None

    def standing(self, now: float) -> bool:
        """Is there a standing queue: has the oldest request waited more than the target
        (or max_wait_s, if shorter), and would a new one wait more than that too?"""
        entries = self._entries
        if not entries or not self.rate:
            return False
        target = min(TARGET_S, self.max_wait_s)
        return now - entries[0][0] > target and len(entries) >= self.rate * target

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, frames: list[bytes], size: int, now: float) -> None:
        self._entries.append((now, size, frames))
        self.bytes += size

    def stale(self, now: float) -> Iterator[Entry]:
        """Take out the requests that have waited longer than ``max_wait_s``, oldest first."""
        entries = self._entries
        limit = now - self.max_wait_s
        while entries and entries[0][0] < limit:
            entry = entries.popleft()
            self.bytes -= entry[1]
            yield entry

    def take(self) -> Entry:
        """The oldest request (the inbox is not empty)."""
        entry = self._entries.popleft()
        self.bytes -= entry[1]
        return entry

    def oldest_age(self, now: float) -> float:
        return now - self._entries[0][0] if self._entries else 0.0

    def drain(self) -> Iterator[Entry]:
        """Take out every request (the balancer is going away)."""
        while self._entries:
            yield self.take()
