"""A Locust user that calls the balancer over ZeroMQ (zmq.green, gevent-friendly).

One DEALER socket per user. Each call carries a sequence number as an
envelope frame (the balancer echoes the envelope on every reply, whatever
its status), so a late reply to an earlier, timed-out call is recognised
and dropped instead of being taken for the current one. Every reply fires
a Locust request event with its response time and length, the serving
backend in the event's context, and an exception for every status other
than ``ok``.
"""

from __future__ import annotations

import itertools
import struct
import time

import zmq.green as zmq

from lbbench.swarm.recording import report_call
from lbbench.swarm.workload import PacedUser

_SEQ = struct.Struct(">Q")


class BalancerError(Exception):
    """The balancer answered with a status other than ok (error, timeout, unavailable, ...)."""


class ZmqUser(PacedUser):
    """Calls the balancer's frontend (``host``, e.g. tcp://127.0.0.1:5555) over ZeroMQ."""

    abstract = True

    def on_start(self) -> None:
        context = zmq.Context.instance()
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.host)
        self._seq = itertools.count()

    def on_stop(self) -> None:
        self.socket.close(0)

    def call(self, name: str, key: bytes | None = None) -> str:
        """One request; returns the status. Fires exactly one request event."""
        seq = _SEQ.pack(next(self._seq))
        body = [key, self.payload] if key is not None else [self.payload]
        started = time.perf_counter()
        self.socket.send_multipart([seq, b"", *body])
        deadline = started + self.timeout_s
        status, backend, length, exception = "timeout", "", 0, None
        while True:
            left = deadline - time.perf_counter()
            if left <= 0 or not self.socket.poll(int(left * 1e3) + 1):
                exception = BalancerError("no reply within the client timeout")
                break
            frames = self.socket.recv_multipart()
            if len(frames) != 5 or frames[0] != seq:
                continue  # a late reply to an earlier call
            status = frames[2].decode(errors="replace")
            backend = frames[3].decode(errors="replace")
            length = len(frames[4])
            if status != "ok":
                exception = BalancerError(status)
            break
        report_call(self, "zmq", name, started, length, exception, backend, status)
        return status
