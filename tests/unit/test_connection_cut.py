"""Closing one backend peer's connection (``lbbench.balancer.cut``), on real ZeroMQ sockets
over loopback TCP: a ROUTER like the balancer's backend socket, DEALERs like its peers."""

from __future__ import annotations

import time

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from lbbench.balancer.cut import ConnectionCutter
from lbbench.zmq_io import recv_frames_and_fd

DEADLINE_S = 5.0


@pytest.fixture
def router():
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)  # a cut is seen there
    peers = []

    def peer(name: bytes) -> zmq.Socket:
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.IDENTITY, name)
        dealer.setsockopt(zmq.RECONNECT_IVL, 10)
        dealer.connect(f"tcp://127.0.0.1:{port}")
        peers.append(dealer)
        return dealer

    yield sock, peer, monitor
    sock.disable_monitor()
    monitor.close()
    for dealer in peers:
        dealer.close()
    sock.close()
    context.term()


def message(sock: zmq.Socket) -> tuple[list[bytes], int]:
    """The next message, and the number of the connection it came in on."""
    assert sock.poll(DEADLINE_S * 1000), "no message within the deadline"
    return recv_frames_and_fd(sock)


def disconnect_seen(monitor: zmq.Socket, fd: int) -> bool:
    """Whether libzmq reports connection ``fd`` gone, within the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if monitor.poll(100):
            event = recv_monitor_message(monitor)
            if event["event"] == zmq.EVENT_DISCONNECTED and event["value"] == fd:
                return True
    return False


def test_a_peers_connection_is_cut_and_a_new_one_cut_again(router):
    sock, peer, monitor = router
    flooder = peer(b"flooder")
    flooder.send(b"HB")
    frames, fd = message(sock)
    assert frames[0] == b"flooder" and fd >= 0
    cutter = ConnectionCutter()
    assert cutter.cut("flooder", fd, now=0.0)
    assert disconnect_seen(monitor, fd)
    # the same connection is not cut twice (its last messages carry its number)
    assert not cutter.cut("flooder", fd, now=1.0)
    # ZeroMQ reconnects the peer: its new connection is cut again
    flooder.send(b"HB")
    frames, fd = message(sock)
    assert cutter.cut("flooder", fd, now=2.0)
    assert disconnect_seen(monitor, fd)
    assert cutter.cuts == 2


def test_a_joined_targets_connection_is_never_cut(router):
    sock, peer, monitor = router
    target = peer(b"t0")
    target.send(b"HB")
    _, fd = message(sock)
    cutter = ConnectionCutter()
    cutter.heard_target("t0", fd)
    # a stale message of a cut peer carrying a number libzmq has since given to t0
    assert not cutter.cut("flooder", fd, now=0.0)
    assert cutter.spared == 1
    target.send(b"HB")
    assert message(sock)[0] == [b"t0", b"HB"]
    assert not monitor.poll(0)  # still connected
    cutter.forget_target("t0")  # t0 left: its number is no longer protected
    assert cutter.cut("flooder", fd, now=1.0)


@pytest.mark.parametrize("fd", [-1, 1_000_000])
def test_no_connection_no_cut(fd):
    assert not ConnectionCutter().cut("flooder", fd, now=0.0)
