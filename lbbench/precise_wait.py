"""Waiting on ZeroMQ sockets to the microsecond, waking at once on a message.

``zmq.poll`` takes whole milliseconds (pyzmq truncates a float), so a
process that must act at a given time (a target finishing a job, the
generator's next send) either wakes up to a millisecond early and spins,
or naps in short steps and answers a message late by up to a nap. Either
adds to every measured latency something the simulator does not have.

A ZeroMQ socket exposes a file descriptor that becomes readable when the
socket's state may have changed (edge-triggered: it says nothing until
``ZMQ_EVENTS`` is read again). So: read ``ZMQ_EVENTS`` of each socket; if
none has a message, ``select`` on the descriptors, whose timeout is in
microseconds, and read ``ZMQ_EVENTS`` again. The timer slack of the
thread (``precise_timers``) decides how late the wake-up
can be.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Iterable
from typing import cast

import zmq

# select() cannot watch a descriptor numbered at or above FD_SETSIZE.
_SELECT_LIMIT = 1024


class SocketWaiter:
    """Wait for any of a few sockets to have a message to read, for at most a given time."""

    def __init__(self, sockets: Iterable[zmq.Socket]) -> None:
        self.sockets = list(sockets)
        self._fds = [cast(int, sock.getsockopt(zmq.FD)) for sock in self.sockets]
        self._poller: zmq.Poller | None = None
        if any(fd >= _SELECT_LIMIT for fd in self._fds):
            self._poller = zmq.Poller()  # millisecond waits: late, but never wrong
            for sock in self.sockets:
                self._poller.register(sock, zmq.POLLIN)

    def readable(self) -> list[zmq.Socket]:
        """The sockets with a message waiting, without blocking."""
        return [
            sock for sock in self.sockets if cast(int, sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN
        ]

    def wait(self, seconds: float) -> list[zmq.Socket]:
        """The sockets with a message, after waiting up to ``seconds`` for one.

        May return early with none (a descriptor signalled a state change
        other than a message): callers loop on their own deadline.
        """
        ready = self.readable()
        if ready or seconds <= 0:
            return ready
        if self._poller is not None:
            return [sock for sock, _ in self._poller.poll(max(1, round(seconds * 1e3)))]
        select.select(self._fds, [], [], seconds)
        return self.readable()


def precise_timers() -> None:
    """Wake up on time: Linux lets a sleep overrun by the thread's timer slack
    (50 us by default) to batch wake-ups, which added to most service times
    (measured: the live mean 4.7 % above the simulated one for a 2 ms
    exponential queue). 1 us of slack costs a few more wake-ups, no CPU."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(29, 1000)  # PR_SET_TIMERSLACK, ns
