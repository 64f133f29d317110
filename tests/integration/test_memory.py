"""Bounded memory: hostile and careless clients cannot push the balancer's resident memory past
its stated bound (``Limits.memory_bound``), nor keep it there after they leave.

A real rig on 127.0.0.1. Six clients send 15 KB requests as fast as they
can and never read a reply; one sends a frame over the maximum message
size. Meanwhile a well-formed client is served, and the balancer's RSS is
sampled every 20 ms.
"""

from __future__ import annotations

import threading
import time

import psutil
import pytest
import zmq

from lbbench.balancer.limits import Limits
from lbbench.balancer.memory import GROWTH_BYTES
from lbbench.rigs.live import LiveProcesses
from tests.integration.helpers import request, scenario

NEVER_READ = 6
REQUESTS_EACH = 10_000
PAYLOAD = b"x" * 15_000  # under the default maximum message size (16 KiB)


class PeakRss:
    """The largest RSS of a process, sampled in a thread until stopped."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:  # the test failed and its rig is gone
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def client(frontend: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)  # its own queue unbounded: it pushes all it has
    sock.setsockopt(zmq.RCVHWM, 1)  # and takes nothing back
    sock.connect(frontend)
    return sock


def test_clients_that_never_read_cannot_grow_the_balancer_past_its_bound():
    with LiveProcesses(scenario("uniform", "p2c"), seed=1) as rig:
        rig.wait_ready()
        balancer = psutil.Process(rig.balancer.popen.pid)
        baseline = balancer.memory_info().rss
        sampler = PeakRss(balancer)
        hostile = [client(rig.frontend) for _ in range(NEVER_READ)]
        oversized = client(rig.frontend)
        oversized.send_multipart([b"", b"y" * (2 * Limits().max_message_size)])
        for _ in range(REQUESTS_EACH):
            for sock in hostile:
                sock.send_multipart([b"", PAYLOAD])
        for i in range(5):  # answered all along: served, or shed with the flood
            status, _, payload = request(rig.frontend, b"well formed %d" % i, timeout_s=10.0)
            assert (status, payload) in [(b"ok", b"well formed %d" % i), (b"overloaded", b"")]
        poll_until_answered(rig, NEVER_READ * REQUESTS_EACH)
        status, _, payload = request(rig.frontend, b"after the flood", timeout_s=10.0)
        assert (status, payload) == (b"ok", b"after the flood")
        peak = sampler.stop()
        assert not oversized.poll(0), "an oversized frame got an answer"
        clients = NEVER_READ + 2  # and the well-formed one
        assert peak - baseline <= Limits().memory_bound(clients), (peak, baseline)
        replies = rig.control({"cmd": "stats"})["replies"]
        assert replies["held_bytes"] <= Limits().outbox_bytes and replies["dropped"] > 0
        for sock in [*hostile, oversized]:
            sock.close(0)
        # Gone: their backlogs are let go and the heap trimmed, back near the baseline.
        deadline = time.monotonic() + 15.0
        while balancer.memory_info().rss > baseline + GROWTH_BYTES:
            assert time.monotonic() < deadline, balancer.memory_info().rss - baseline
            time.sleep(0.1)  # sleep-ok: the interval of a poll bounded by its deadline
        assert rig.control({"cmd": "stats"})["replies"]["held_bytes"] == 0
        assert rig.balancer.popen.poll() is None


def poll_until_answered(rig: LiveProcesses, count: int) -> None:
    """Wait until the balancer has read and answered ``count`` requests (or more)."""
    deadline = time.monotonic() + 30.0
    while True:
        stats = rig.control({"cmd": "stats"})
        if stats["received"] >= count and stats["answered"] == stats["received"]:
            return
        assert time.monotonic() < deadline, (stats["received"], stats["answered"])
        time.sleep(0.05)  # sleep-ok: the interval of a poll bounded by its deadline


CHURN_S = 60.0
CHURN_AT_ONCE = 8  # clients connected at any time
CHURN_REQUESTS = 300  # each sends this many 4 KB requests, reads nothing and vanishes


@pytest.mark.slow
def test_a_minute_of_clients_that_send_never_read_and_vanish_leaves_nothing_held():
    """Churn: for a minute, clients connect, send, never read a reply and close. Each one's
    backlog of replies must be let go once it has gone (issue 24: the outbox could hold a
    gone client's backlog while nothing read the socket), so at the end the outbox is empty
    and the balancer's memory is back near where it started."""
    with LiveProcesses(scenario("uniform", "p2c"), seed=1) as rig:
        rig.wait_ready()
        balancer = psutil.Process(rig.balancer.popen.pid)
        baseline = balancer.memory_info().rss
        payload = b"c" * 4096
        clients: list[zmq.Socket] = []
        ended = time.monotonic() + CHURN_S
        made = 0
        while time.monotonic() < ended:
            sock = client(rig.frontend)
            for _ in range(CHURN_REQUESTS):
                sock.send_multipart([b"", payload])
            clients.append(sock)
            made += 1
            if len(clients) >= CHURN_AT_ONCE:
                clients.pop(0).close(0)  # vanishes with replies still coming to it
            time.sleep(0.05)  # sleep-ok: the pace of the churn, not a wait for readiness
        for sock in clients:
            sock.close(0)
        poll_until_answered(rig, made * CHURN_REQUESTS)
        deadline = time.monotonic() + 15.0
        while True:
            replies = rig.control({"cmd": "stats"})["replies"]
            rss = balancer.memory_info().rss
            if replies["held_bytes"] == 0 and rss <= baseline + GROWTH_BYTES:
                break
            assert time.monotonic() < deadline, (replies, rss - baseline, made)
            time.sleep(0.1)  # sleep-ok: the interval of a poll bounded by its deadline
        assert replies["held"] == 0, replies  # (how many went to clients already gone
        # depends on how fast the fleet answered: TCP buffers take many replies)
        status, _, answer = request(rig.frontend, b"after the churn", timeout_s=10.0)
        assert (status, answer) == (b"ok", b"after the churn")
