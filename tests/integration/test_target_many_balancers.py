"""One target shared by two balancers (``lbbench target --backend A,B``): the first live piece
of many balancers sharing a fleet. Real processes on loopback: two ``lbbench balancer`` and
one target joined to both.

Scenario: each balancer sees the target join and sends it requests; every reply comes back
through the balancer that sent the request (never the other); the target is one server, so
a slowdown injected through one balancer slows the other's requests too; a cancel from one
balancer cannot cancel the other's request of the same attempt id. Bounded: a handful of
requests, deadlines on every wait, every process stopped.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import zmq

from tests.integration.helpers import request, stop_process

READY_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def control(address: str, command: dict, timeout_s: float = 5.0) -> dict:
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    try:
        sock.send_json(command)
        assert sock.poll(int(timeout_s * 1e3)), f"no answer to {command}"
        return sock.recv_json()
    finally:
        sock.close(0)


def start(args: list[str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lbbench", *args], stdout=subprocess.DEVNULL, stderr=log.open("a")
    )


@pytest.fixture
def two_balancers_one_target(tmp_path):
    balancers = [
        {"frontend": endpoint(), "backend": endpoint(), "control": endpoint()} for _ in range(2)
    ]
    processes = []
    try:
        for b in balancers:
            args = ["balancer", "--frontend", b["frontend"], "--backend", b["backend"],
                    "--control", b["control"]]  # fmt: skip
            processes.append(start(args, tmp_path / "balancer.log"))
        backends = ",".join(b["backend"] for b in balancers)
        processes.append(start(["target", "--id", "t0", "--backend", backends], tmp_path / "t.log"))
        deadline = time.monotonic() + READY_S
        for b in balancers:
            while True:
                try:
                    stats = control(b["control"], {"cmd": "stats"}, timeout_s=1.0)
                    if [x["health"] for x in stats["backends"]] == ["healthy"]:
                        break
                except AssertionError:
                    pass  # not listening yet
                assert time.monotonic() < deadline, "the target never joined both balancers"
                time.sleep(0.05)  # sleep-ok: the interval of a poll bounded by its deadline
        yield balancers
    finally:
        for process in processes:
            stop_process(process)


def test_a_target_serves_two_balancers_each_on_its_own_connection(two_balancers_one_target):
    first, second = two_balancers_one_target
    for i in range(20):
        for b in (first, second):
            status, backend, payload = request(b["frontend"], b"call %d" % i)
            assert (status, backend, payload) == (b"ok", b"t0", b"call %d" % i)
    # each balancer counted exactly its own requests' replies: none went astray
    for b in (first, second):
        stats = control(b["control"], {"cmd": "stats"})
        assert stats["stats"]["outcomes"]["ok"] == 20
        assert stats["stats"]["foreign_replies"] == 0 and stats["stats"]["late_replies"] == 0


def test_a_fault_through_one_balancer_is_the_targets_for_both(two_balancers_one_target):
    first, second = two_balancers_one_target
    slow = {"cmd": "fault", "target": "t0", "kind": "slow", "factor": 50}
    answer = control(first["control"], slow)
    assert answer.get("ok"), answer
    slowed = timed(second["frontend"])  # through the other balancer
    answer = control(second["control"], {"cmd": "fault", "target": "t0", "kind": "recover"})
    assert answer.get("ok"), answer
    normal = timed(first["frontend"])
    # ten service times of the default model, 50x slower, against ten at its speed
    assert slowed > 5 * normal, (slowed, normal)


def timed(frontend: str, calls: int = 10) -> float:
    """Seconds ``calls`` requests took one after another (every one answered ok by t0)."""
    started = time.monotonic()
    for i in range(calls):
        assert request(frontend, b"call %d" % i, timeout_s=10.0)[:2] == [b"ok", b"t0"]
    return time.monotonic() - started


def test_a_cancel_from_one_balancer_leaves_the_others_request_of_the_same_id(tmp_path):
    """Two balancers draw their attempt ids apart: the same id may come from both. Two
    ROUTER sockets stand in for them here; the target is the real one, a process serving
    one request at a time. The first balancer's request is in service, the second's of the
    same id waits; the first cancels its own (too late: work in progress runs to its end),
    which must not take the second's out of the queue. (A process, not a thread here:
    an earlier test may have imported Locust, whose gevent makes threads greenlets that a
    blocking poll in the test would starve.)"""
    from lbbench import protocol as p

    profile = tmp_path / "one.toml"
    profile.write_text(
        'name = "one"\n[[target]]\nid = "t0"\ncapacity = 1\n'
        'latency = { dist = "fixed", ms = 100 }\n'
    )
    context = zmq.Context()  # its own: nothing an earlier test left in the shared one
    routers = []
    for _ in range(2):
        router = context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind("tcp://127.0.0.1:0")
        routers.append(router)
    addresses = ",".join(r.getsockopt_string(zmq.LAST_ENDPOINT) for r in routers)
    target = start(
        ["target", "--id", "t0", "--targets", str(profile), "--backend", addresses],
        tmp_path / "target.log",
    )
    try:
        for router in routers:  # each sees the target join
            assert router.poll(int(READY_S * 1e3)), "the target never joined"
            assert router.recv_multipart()[:2] == [b"t0", p.READY]
        first, second = routers
        # each step behind a probe on the same connection: once the probe is answered,
        # the target has taken what came before it (two connections have no order)
        first.send_multipart([b"t0", p.request_header(7), b"", b"first's"])
        probed(first)
        second.send_multipart([b"t0", p.request_header(7), b"", b"second's"])
        probed(second)
        first.send_multipart([b"t0", p.CANCEL, p.pack_id(7)])
        replies: dict[int, list[list[bytes]]] = {0: [], 1: []}
        deadline = time.monotonic() + 5.0  # fifty service times: both long due
        while time.monotonic() < deadline and not (replies[0] and replies[1]):
            for index, router in enumerate(routers):
                while router.poll(0):
                    frames = router.recv_multipart()
                    if frames[1].startswith(p.REP):
                        replies[index].append(frames)
            time.sleep(0.01)  # sleep-ok: the interval of a poll bounded by its deadline
        assert [f[2] for f in replies[0]] == [b"first's"]  # in service: ran to its end
        assert [f[2] for f in replies[1]] == [b"second's"]  # not taken by the other's cancel
        assert p.parse_reply_header(replies[1][0][1]) == (7, True)
    finally:
        stop_process(target)
        for router in routers:
            router.close(0)
        context.term()


def probed(router) -> None:
    """Probe the target on ``router``'s connection and wait for the answer."""
    from lbbench import protocol as p

    router.send_multipart([b"t0", p.PROBE, p.pack_id(0)])
    while True:
        assert router.poll(5000), "no probe answer"
        if router.recv_multipart()[1] == p.PROBED:
            return
