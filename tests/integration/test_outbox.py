"""Replies to clients on a real ROUTER: a client that reads late gets every reply, in order;
one that never reads cannot make the balancer hold more than its backlog bound."""

from __future__ import annotations

import time

import zmq

from lbbench.balancer.outbox import Outbox


def pair(hwm: int = 16) -> tuple[zmq.Socket, zmq.Socket]:
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.SNDHWM, hwm)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    client = context.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.setsockopt(zmq.IDENTITY, b"client")
    client.setsockopt(zmq.RCVHWM, hwm)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"hello")  # the router learns the route
    assert router.poll(5000)
    router.recv_multipart()
    return router, client


def drain(client: zmq.Socket, outbox: Outbox, want: int, timeout_s: float = 10.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        outbox.flush()
        if client.poll(1):
            got.append(client.recv_multipart()[-1])
    return got


def test_a_client_that_reads_late_gets_every_reply_in_order():
    router, client = pair()
    outbox = Outbox(router)
    replies = [b"%06d" % i for i in range(20_000)]  # far more than both queues hold
    for reply in replies:
        outbox.send([b"client", reply])
    assert outbox.waiting > 0  # the queues filled: the rest waited in the backlog
    assert drain(client, outbox, len(replies)) == replies
    assert outbox.bytes == 0 and outbox.dropped == 0 and outbox.gone == 0
    router.close(0)
    client.close(0)


def test_a_client_that_never_reads_is_held_to_its_backlog_bound_and_then_dropped():
    router, client = pair()
    outbox = Outbox(router, per_client_bytes=64 * 1024, total_bytes=1024 * 1024)
    reply = b"x" * 1024
    for _ in range(5_000):  # 5 MB of replies to a client that reads none
        outbox.send([b"client", reply])
    assert outbox.bytes <= 64 * 1024
    assert outbox.dropped > 0
    client.close(0)  # it goes away: its backlog is let go on the next flush
    deadline = time.monotonic() + 10.0
    while outbox.bytes and time.monotonic() < deadline:
        outbox.flush()
        time.sleep(0.01)  # sleep-ok: the interval of a poll bounded by its deadline
    assert outbox.bytes == 0 and outbox.gone > 0
    outbox.send([b"client", reply])  # replies to a client that has gone are counted, not kept
    assert outbox.bytes == 0
    router.close(0)
