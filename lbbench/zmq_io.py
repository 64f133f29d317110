"""Frames in and out of ZeroMQ sockets, as fast as pyzmq allows (the hot paths' I/O).

The layouts of the frames are ``lbbench.protocol``'s; this only moves them.
"""

from __future__ import annotations

import zmq

_MORE = int(zmq.SNDMORE)
_NOBLOCK = int(zmq.NOBLOCK)
# The compiled socket methods, without pyzmq's pure-Python wrappers (keyword
# handling, enum flag arithmetic) that profiling showed to cost more than the
# sends and receives themselves in the balancer's hot loop.
_send = zmq.backend.Socket.send
_recv = zmq.backend.Socket.recv


def send_frames(sock: zmq.Socket, frames: list[bytes], nonblocking: bool = False) -> None:
    """``sock.send_multipart(frames)``, faster; raises zmq.Again when nonblocking and full."""
    flags = _NOBLOCK if nonblocking else 0
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        _send(sock, frame, flags | _MORE if index < last else flags)


def recv_frames(sock: zmq.Socket) -> list[bytes]:
    """``sock.recv_multipart(zmq.NOBLOCK)``, faster; raises zmq.Again when empty.

    Receiving Frames and reading their ``more`` flag avoids a getsockopt
    (and its enum conversion) per frame: about half the cost per message.
    """
    frames = []
    while True:
        frame = _recv(sock, _NOBLOCK, False)
        frames.append(frame.bytes)
        if not frame.more:
            return frames


_SRCFD = int(zmq.SRCFD)


def recv_frames_and_fd(sock: zmq.Socket) -> tuple[list[bytes], int]:
    """``recv_frames``, and the file descriptor of the connection the message came in on
    (libzmq's ZMQ_SRCFD: -1 when it has none), so that one peer's connection can be cut."""
    frames = []
    fd = -1
    while True:
        frame = _recv(sock, _NOBLOCK, False)
        if fd < 0:
            fd = frame.get(_SRCFD)
        frames.append(frame.bytes)
        if not frame.more:
            return frames, fd
