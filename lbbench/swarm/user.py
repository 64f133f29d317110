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

from lbbench.swarm.plugin import client_keys
from lbbench.swarm.recording import report_call
from lbbench.swarm.workload import PacedUser

_SEQ = struct.Struct(">Q")


class BalancerError(Exception):
    """The balancer answered with a status other than ok (error, timeout, unavailable, ...)."""


def host_problem(host: str | None) -> str | None:
    """Why ZeroMQ cannot connect to ``host`` (None: it can): tcp://HOST:PORT or ipc://PATH."""
    if not host:
        return "no host: give the balancer's frontend, e.g. tcp://127.0.0.1:5555"
    scheme, separator, rest = host.partition("://")
    if not separator or scheme not in ("tcp", "ipc"):
        return f"host {host!r}: expected tcp://HOST:PORT (the balancer's frontend) or ipc://PATH"
    if scheme == "ipc":
        return None if rest else f"host {host!r}: ipc:// needs a path"
    name, colon, port = rest.rpartition(":")
    if not colon or not name or not port.isdigit() or not 0 < int(port) < 65536:
        return f"host {host!r}: expected tcp://HOST:PORT with a port from 1 to 65535"
    return None


class ZmqUser(PacedUser):
    """Calls the balancer's frontend (``host``, e.g. tcp://127.0.0.1:5555) over ZeroMQ."""

    abstract = True
    host_problem = staticmethod(host_problem)  # the web UI's start form asks it (swarm.tab)

    def on_start(self) -> None:
        self._seq = itertools.count()
        # A host ZeroMQ cannot connect to (given with -H, or a form that did not
        # ask) fails every call with the reason, where Locust's UI shows failures.
        self.unusable = host_problem(self.host)
        if self.unusable:
            return
        context = zmq.Context.instance()
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        options = self.environment.parsed_options
        keys = client_keys(getattr(options, "lbbench_curve", "") or "")
        if keys is not None:
            keys.connect(self.socket)  # the balancer has keys: be its Curve client
        self.socket.connect(self.host)

    def on_stop(self) -> None:
        if not self.unusable:
            self.socket.close(0)

    def call(self, name: str, key: bytes | None = None) -> str:
        """One request; returns the status. Fires exactly one request event."""
        if self.unusable:
            report_call(self, "zmq", name, time.perf_counter(), 0, BalancerError(self.unusable),
                        "", "error")  # fmt: skip
            return "error"
        seq = _SEQ.pack(next(self._seq))
        body = [key, self.payload] if key is not None else [self.payload]
        started = time.perf_counter()
        self.socket.send_multipart([seq, b"", *body])
        deadline = started + self.timeout_s
        status, backend, length, exception = "timeout", "", 0, None
        while True:
            left = deadline - time.perf_counter()
            if left <= 0 or not self.socket.poll(int(left * 1e3) + 1):
                # Also what a host that cannot be reached looks like (ZeroMQ
                # connects in the background): say where we were calling.
                exception = BalancerError(
                    f"no reply from {self.host} within {self.timeout_s:g} s "
                    "(the balancer slow, or not reachable there)"
                )
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
