"""What the router says back: actions for its driver, timers, and health events.

The router never touches a socket or a clock. Each event it takes returns
a list of these actions, which the driver (the live balancer, the
simulator, a test) carries out in order.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol


class Send(NamedTuple):
    """Send attempt ``attempt`` of request ``request`` to ``backend``.

    ``extra`` marks an attempt sent while an earlier one is still out (a
    hedge), as opposed to a first try or a retry after a failure.
    """

    attempt: int
    request: int
    backend: str
    extra: bool


class Cancel(NamedTuple):
    """Attempt ``attempt`` is abandoned (lost a hedge race, timed out): tell the backend."""

    attempt: int
    request: int
    backend: str


class Reply(NamedTuple):
    """Answer the client of ``request`` with ``status`` (backend empty if none answered) and
    ``payload``: the answering backend's, for ``ok`` and ``error``; empty otherwise."""

    request: int
    status: str
    backend: str
    payload: bytes = b""


class TimerOwner(Protocol):
    """Whoever armed a timer gets it back: the router itself or a failover policy."""

    def on_timer(self, timer: Timer, now: float) -> None: ...


class Timer(NamedTuple):
    """A timer the router wants back through ``on_timer``.

    ``owner`` handles it, ``kind`` tells the owner's timers apart, ``ref``
    is what it is about (a request, an attempt, a backend) and ``tag``
    tells a stale timer from a current one. Timers are never cancelled:
    one that fires after what it guarded is over does nothing.
    """

    owner: TimerOwner
    kind: str
    ref: Any
    tag: Any


class Arm(NamedTuple):
    """Call ``on_timer(at, timer)`` once the clock reaches ``at``."""

    at: float
    timer: Timer


class Probe(NamedTuple):
    """Ask ``backend`` for its requests in flight and latency (probing strategies)."""

    backend: str


Action = Send | Cancel | Reply | Arm | Probe


class HealthEvent(NamedTuple):
    """A change in a backend's health, for failover timing and timelines.

    ``kind`` is a ``lbbench.vocabulary.Health`` word; ``backend`` is empty
    for fleet-wide events (panic, calm).
    """

    at: float
    backend: str
    kind: str
    detail: str
