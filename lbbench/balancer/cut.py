"""Closing the connection of one peer on the backend socket.

A ZeroMQ ROUTER has no call to close one accepted connection, so a peer far
over its budget (``balancer.budget``) used to stay connected: its messages
were dropped at the first look, but the balancer's I/O thread still took them
off the wire as fast as the peer sent them, and that reading cost a polite
client's p99 a third to two thirds (issue 24). libzmq does say which
connection a message came in on (its ZMQ_SRCFD property), and shutting that
socket down makes libzmq drop the connection as if the peer had gone: the
messages it had already read are still delivered (and dropped), and the peer
may reconnect (ZeroMQ peers do, after their reconnect interval), to be cut
again at its first message while its quarantine lasts.

A file descriptor outlives nothing: once libzmq closes a cut connection its
number may be given to the next connection accepted, while the cut peer's
last messages, carrying the old number, are still being read. So a number is
never cut when it is known as a joined target's (the number each joined
target's messages last came in on is kept), and a number already cut for this
peer is cut again only when it is a new connection (another peer address). The
one risk left: a connection accepted in that moment whose peer has not yet
said a word; it is dropped, and ZeroMQ reconnects it.
"""

from __future__ import annotations

import os
import socket

RETRY_S = 0.001  # a peer's connection looked at once a millisecond at most (its last
# messages after a cut, up to the socket's high-water mark, need no syscalls each)


class ConnectionCutter:
    """Cuts quarantined peers' connections, never a joined target's."""

    def __init__(self) -> None:
        self._target_fd: dict[str, int] = {}  # joined target -> the fd it last spoke on
        self._fd_target: dict[int, str] = {}
        self._cut: dict[str, tuple[int, object]] = {}  # peer -> (fd, peer address) last cut
        self._looked: dict[str, float] = {}  # peer -> when its connection was last looked at
        self.cuts = 0  # connections cut
        self.spared = 0  # cuts not made: the number is a joined target's

    def heard_target(self, target: str, fd: int) -> None:
        """A joined target's message came in on ``fd``."""
        old = self._target_fd.get(target)
        if old == fd:
            return
        if old is not None and self._fd_target.get(old) == target:
            del self._fd_target[old]
        self._target_fd[target] = fd
        self._fd_target[fd] = target

    def forget_target(self, target: str) -> None:
        fd = self._target_fd.pop(target, None)
        if fd is not None and self._fd_target.get(fd) == target:
            del self._fd_target[fd]

    def cut(self, peer: str, fd: int, now: float) -> bool:
        """Close the connection ``peer``'s message came in on; whether it was closed."""
        if fd < 0 or now - self._looked.get(peer, -RETRY_S) < RETRY_S:
            return False
        if len(self._looked) >= 1_000 and peer not in self._looked:
            self._looked.clear()  # bounded
        self._looked[peer] = now
        owner = self._fd_target.get(fd)
        if owner is not None and owner != peer:
            self.spared += 1
            return False
        try:
            # a duplicate of libzmq's descriptor: shutting it down ends the
            # connection for libzmq too, and closing the duplicate leaves
            # libzmq's own descriptor for libzmq to close
            conn = socket.socket(fileno=os.dup(fd))
        except OSError:
            return False  # already closed by libzmq
        with conn:
            try:
                address = conn.getpeername()
            except OSError:
                return False  # not connected (any more)
            if self._cut.get(peer) == (fd, address):
                return False  # this connection is cut already: its last messages
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                return False
        self._cut[peer] = (fd, address)
        if len(self._cut) > 1_000:  # bounded: the oldest cuts are forgotten
            del self._cut[next(iter(self._cut))]
        self.cuts += 1
        return True
