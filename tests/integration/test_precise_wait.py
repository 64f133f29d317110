"""The rig's processes wait on their sockets to the microsecond and wake at once on a message.

zmq.poll takes whole milliseconds and treats a shorter wait as none, so a
loop whose next timer was under a millisecond away spun a core (the
balancer did, between deadlines, and took the cores the generator and the
targets needed). ``SocketWaiter`` must: return a waiting message without
blocking, wake as soon as a message comes, wait out a sub-millisecond
timeout without spinning, and never return a socket with nothing to read.
"""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from lbbench.precise_wait import SocketWaiter

WAITS = 200  # sub-millisecond waits per measurement


@pytest.fixture
def pair():
    """A connected PAIR of sockets on loopback: (the one waited on, the sender)."""
    context = zmq.Context()
    receiver = context.socket(zmq.PAIR)
    port = receiver.bind_to_random_port("tcp://127.0.0.1")
    sender = context.socket(zmq.PAIR)
    sender.connect(f"tcp://127.0.0.1:{port}")
    yield receiver, sender
    receiver.close(0)
    sender.close(0)
    context.term()


def _wait_until_readable(waiter: SocketWaiter, seconds: float) -> list[zmq.Socket]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready = waiter.wait(deadline - time.monotonic())
        if ready:
            return ready
    return []


def test_a_waiting_message_is_returned_without_blocking(pair):
    receiver, sender = pair
    sender.send(b"hello")
    waiter = SocketWaiter([receiver])
    assert _wait_until_readable(waiter, 5.0) == [receiver]
    started = time.monotonic()
    assert waiter.wait(5.0) == [receiver]  # still unread: at once
    assert time.monotonic() - started < 1.0
    assert receiver.recv(zmq.NOBLOCK) == b"hello"
    assert waiter.wait(0.0) == []


def test_a_message_ends_a_long_wait(pair):
    receiver, sender = pair
    waiter = SocketWaiter([receiver])
    timer = threading.Timer(0.05, lambda: sender.send(b"late"))
    timer.start()
    started = time.monotonic()
    ready = _wait_until_readable(waiter, 10.0)
    timer.join()
    assert ready == [receiver]
    assert time.monotonic() - started < 5.0  # woken by the message, not the timeout
    assert receiver.recv(zmq.NOBLOCK) == b"late"


@pytest.mark.parametrize("seconds", [0.0002, 0.0005, 0.0009])
def test_a_sub_millisecond_wait_waits_and_does_not_spin(pair, seconds):
    receiver, _ = pair
    waiter = SocketWaiter([receiver])
    # The connection's handshake may have signalled the descriptor; after a
    # wait with nothing to read it is quiet until something happens.
    assert _wait_until_readable(waiter, 0.05) == []
    wall, cpu = time.monotonic(), time.process_time()
    for _ in range(WAITS):
        began = time.monotonic()
        assert waiter.wait(seconds) == []
        assert time.monotonic() - began >= seconds  # never early (zmq.poll returned at once)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    # Asleep most of the time: a spinning wait burns as much CPU as it takes wall time.
    assert cpu < 0.5 * wall, f"{cpu:.3f} s of CPU in {wall:.3f} s of waiting"
