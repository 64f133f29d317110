"""What the balancer holds at most: message size, queue depths, bytes held, time in its inbox.

ZeroMQ counts its queues (high-water marks) in messages; a bound in bytes
comes from bounding the message size too: a peer that sends a bigger
frame than ``max_message_size`` is disconnected by ZeroMQ itself
(``ZMQ_MAXMSGSIZE``). Each client connection's queues hold at most
``client_recv_hwm`` messages in and ``client_send_hwm`` out, chosen from
byte budgets: inbound deep enough that the balancer reads a whole batch
at each turn of its loop (a shallow queue caps the rate it can read, and
requests would wait where their age is not seen), outbound shallow,
because a reply that finds a client's queue full waits in the outbox.
Target connections keep a deeper queue (``TARGET_HWM``): a send a
target's queue refuses fails the attempt, so it must not happen in an
ordinary burst; what travels to targets is bounded by ``max_held_bytes``
anyway, because every request on its way is held.

What the balancer itself holds is bounded by ``max_held_bytes``: the
requests read and not yet answered (a request that would go beyond it is
answered ``overloaded``), and as much again in replies kept for clients
slow to read them (``outbox``; a quarter of it per client).

``memory_bound(clients)`` is the resulting bound on the balancer's
resident memory above what it uses at rest, stated in the README and
checked by ``tests/integration/test_memory.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbbench.checks import check_number

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024  # the rig raises it for scenarios with bigger payloads
DEFAULT_MAX_HELD_BYTES = 32 * 1024 * 1024
CLIENT_RECV_BYTES = 16 * 1024 * 1024  # per client connection, inbound
CLIENT_SEND_BYTES = 2 * 1024 * 1024  # per client connection, outbound
MIN_HWM = 16
MAX_HWM = 1000
TARGET_HWM = 1000
# The control socket: requests over 64 KiB get a one-line error
# (``control.MAX_REQUEST_BYTES``); over this, ZeroMQ disconnects the peer.
CONTROL_MAX_MESSAGE_SIZE = 1024 * 1024
INBOX_MAX = 20_000  # requests read and waiting for the router, whatever their size
WAIT_SHARE_OF_DEADLINE = 0.1  # default longest wait in the inbox, as a share of the deadline
# Python objects, router records and allocator slack for the requests a
# balancer may have in hand (INBOX_MAX waiting, max_pending in flight).
BOOKKEEPING_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The balancer's bounds (``lbbench balancer --max-message-size/--max-wait/--max-held``)."""

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_wait_s: float | None = None  # None: WAIT_SHARE_OF_DEADLINE of the deadline
    max_held_bytes: int = DEFAULT_MAX_HELD_BYTES

    def __post_init__(self) -> None:
        check_number("--max-message-size", self.max_message_size, low=256, integer=True)
        check_number("--max-held", self.max_held_bytes, low=self.max_message_size, integer=True)
        if self.max_wait_s is not None:
            check_number("--max-wait", self.max_wait_s, low=0.0, low_open=True, high=3600.0)

    def _messages(self, budget: int) -> int:
        return max(MIN_HWM, min(MAX_HWM, budget // self.max_message_size))

    @property
    def client_recv_hwm(self) -> int:
        """Requests queued per client connection: CLIENT_RECV_BYTES of the largest."""
        return self._messages(CLIENT_RECV_BYTES)

    @property
    def client_send_hwm(self) -> int:
        """Replies queued per client connection: CLIENT_SEND_BYTES of the largest."""
        return self._messages(CLIENT_SEND_BYTES)

    @property
    def outbox_bytes(self) -> int:
        """Replies kept for clients slow to read them, all clients together."""
        return self.max_held_bytes

    @property
    def outbox_client_bytes(self) -> int:
        """Replies kept for one client slow to read them."""
        return max(self.max_message_size, self.max_held_bytes // 4)

    def wait_for(self, deadline_s: float) -> float:
        """The longest a request may wait in the inbox before it is answered overloaded."""
        if self.max_wait_s is not None:
            return self.max_wait_s
        return WAIT_SHARE_OF_DEADLINE * deadline_s

    def memory_bound(self, clients: int) -> int:
        """Bytes of resident memory the balancer may grow by, with ``clients`` connected:
        the requests it holds (twice: its own copy and the one on its way to a target,
        and the replies coming back), the outbox, each client connection's queues both
        ways, and the bookkeeping allowance."""
        held = 3 * self.max_held_bytes
        per_client = (self.client_recv_hwm + self.client_send_hwm) * self.max_message_size
        queues = clients * per_client
        return held + self.outbox_bytes + queues + BOOKKEEPING_BYTES
