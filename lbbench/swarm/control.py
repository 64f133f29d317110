"""The balancer's control endpoint, asked from inside Locust (gevent-friendly sockets)."""

from __future__ import annotations

from typing import Any

import zmq.green as zmq

from lbbench.errors import LbbenchError
from lbbench.security import PeerKeys


class ControlError(LbbenchError):
    """The balancer's control endpoint did not answer."""


class Control:
    """``keys``: the client's CurveZMQ keys, when the balancer has keys (beyond loopback)."""

    def __init__(self, address: str, timeout_s: float = 2.0, keys: PeerKeys | None = None) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.keys = keys

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        # A fresh REQ socket per question: one that missed its answer is stuck.
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            if self.keys is not None:
                self.keys.connect(sock)
            sock.connect(self.address)
            sock.send_json(request)
            if not sock.poll(int(self.timeout_s * 1e3)):
                raise ControlError(self.address, f"no answer to {request.get('cmd')!r}")
            return sock.recv_json()
        finally:
            sock.close(0)
