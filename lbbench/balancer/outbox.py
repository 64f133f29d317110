"""Replies to clients: none dropped because a client reads in bursts, none held without bound.

ZeroMQ's ROUTER drops a message silently when the peer's queue is full.
The frontend sets ROUTER_MANDATORY instead, so a full queue is reported
(EAGAIN) and the reply waits here, in that client's backlog, to be sent
again on the next turns of the loop, in order. A client that does not
read its replies at all cannot make the balancer hold them forever: a
backlog is kept up to ``per_client_bytes``, all backlogs together up to
``total_bytes``; beyond that the reply is dropped and counted
(``dropped``). Replies to a client that has gone are dropped and counted
too (``gone``): nobody is there to read them, and a backlog to a client
that has gone is let go on the next flush.
"""

from __future__ import annotations

from collections import deque

import zmq

from lbbench.zmq_io import send_frames

DEFAULT_PER_CLIENT_BYTES = 16 * 1024 * 1024
DEFAULT_TOTAL_BYTES = 64 * 1024 * 1024


class Outbox:
    __slots__ = (
        "_backlogs",
        "_bytes",
        "bytes",
        "dropped",
        "gone",
        "per_client_bytes",
        "sock",
        "total_bytes",
    )

    def __init__(
        self,
        sock: zmq.Socket,
        per_client_bytes: int = DEFAULT_PER_CLIENT_BYTES,
        total_bytes: int = DEFAULT_TOTAL_BYTES,
    ) -> None:
        self.sock = sock
        self.per_client_bytes = per_client_bytes
        self.total_bytes = total_bytes
        self._backlogs: dict[bytes, deque[list[bytes]]] = {}
        self._bytes: dict[bytes, int] = {}
        self.bytes = 0  # in all backlogs
        self.dropped = 0  # replies a client did not read and no backlog could keep
        self.gone = 0  # replies to clients that had disconnected

    def send(self, frames: list[bytes]) -> None:
        """Send a reply (``frames[0]`` is the client's routing id), or keep it for later."""
        client = frames[0]
        if self._backlogs and client in self._backlogs:
            self._keep(client, frames)
            return
        try:
            send_frames(self.sock, frames, True)
        except zmq.Again:  # its queue is full: the client reads slower than it asks
            self._keep(client, frames)
        except zmq.ZMQError:  # EHOSTUNREACH: the client has gone
            self.gone += 1

    def _keep(self, client: bytes, frames: list[bytes]) -> None:
        size = sum(map(len, frames))
        held = self._bytes.get(client, 0)
        if held + size > self.per_client_bytes or self.bytes + size > self.total_bytes:
            self.dropped += 1
            return
        self._backlogs.setdefault(client, deque()).append(frames)
        self._bytes[client] = held + size
        self.bytes += size

    @property
    def waiting(self) -> int:
        """Replies held in backlogs."""
        return sum(len(backlog) for backlog in self._backlogs.values())

    def flush(self) -> None:
        """Send what the backlogs hold, oldest first, until each client's queue is full."""
        send, sock = send_frames, self.sock
        # A client that disconnects while its queue holds replies leaves its pipe
        # half torn down: libzmq finishes the teardown (and only then answers a send
        # with EHOSTUNREACH instead of EAGAIN) when the socket next looks at its
        # inbound side. Asking for its events does that; without it a backlog to a
        # client that has gone could wait for as long as nothing reads the socket
        # (seen: 5 runs in 100 of tests/integration/test_outbox.py held it 10 s).
        sock.getsockopt(zmq.EVENTS)
        for client in list(self._backlogs):
            backlog = self._backlogs[client]
            while backlog:
                frames = backlog[0]
                try:
                    send(sock, frames, True)
                except zmq.Again:
                    break
                except zmq.ZMQError:  # gone: drop the whole backlog
                    self.gone += len(backlog)
                    self._release(client, sum(sum(map(len, f)) for f in backlog))
                    backlog.clear()
                    break
                backlog.popleft()
                self._release(client, sum(map(len, frames)))
            if not backlog:
                del self._backlogs[client]
                self._bytes.pop(client, None)

    def _release(self, client: bytes, size: int) -> None:
        self._bytes[client] -= size
        self.bytes -= size
