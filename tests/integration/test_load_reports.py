"""Load reports live (``view = "reports"``): targets post the requests they hold to every
balancer each period, as the simulator's bulletin board does. Real processes on loopback.

Scenarios: a target posts once a period to each balancer it serves, on multiples of the
period (all targets together), the requests it holds from every balancer; partitioned, it
posts nothing. On the rig, each of two balancers takes every target's posts, and sees the
requests another balancer sent (the reason for reports: a balancer's own count sees only
its own). Bounded: about two seconds of posts, deadlines on every wait, every process
stopped.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import zmq

from lbbench import protocol as p
from lbbench.rigs.live import LiveProcesses
from tests.integration.helpers import scenario, stop_process
from tests.integration.test_target_many_balancers import endpoint

PERIOD_S = 0.05
DEADLINE_S = 10.0


def _posts(sockets: list[zmq.Socket], seconds: float) -> list[list[tuple[float, int]]]:
    """Each socket's load reports (arrival time, load) over ``seconds``."""
    posts: list[list[tuple[float, int]]] = [[] for _ in sockets]
    poller = zmq.Poller()
    for sock in sockets:
        poller.register(sock, zmq.POLLIN)
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        for sock, _ in poller.poll(left * 1e3):
            frames = sock.recv_multipart()
            if frames[1] == p.LOAD:
                posts[sockets.index(sock)].append((time.monotonic(), p.unpack_load(frames[2])))
    return posts


def test_a_target_posts_the_load_it_holds_to_every_balancer_each_period(tmp_path):
    context = zmq.Context.instance()
    addresses = [endpoint(), endpoint()]
    balancers = []
    for address in addresses:  # two ROUTERs stand in for two balancers
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(address)
        balancers.append(sock)
    target = subprocess.Popen(
        [sys.executable, "-m", "lbbench", "target", "--id", "t0", "--backend",
         ",".join(addresses), "--capacity", "1", "--report-every", str(PERIOD_S)],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "t0.log").open("a"),
    )  # fmt: skip
    try:
        first = _posts(balancers, 1.0)
        # idle: about one post a period to each balancer, each saying 0
        for posts in first:
            assert 15 <= len(posts) <= 22, len(posts)
            assert {load for _, load in posts} == {0}
        # on the period's multiples of the machine's clock, a few ms late at most
        late = [at % PERIOD_S for at, _ in first[0][1:]]
        assert sorted(late)[len(late) // 2] < 0.01, late
        # it stalls holding three requests of the first balancer: both are told 3; one
        # more from the second (sent once the stall is in force): both are told 4
        balancers[0].send_multipart([b"t0", p.FAULT, p.encode_json({"kind": "stall"})])
        for attempt in range(3):
            balancers[0].send_multipart([b"t0", p.request_header(attempt), b"", b"x"])
        for posts in _posts(balancers, 0.3):
            assert posts and posts[-1][1] == 3, posts
        balancers[1].send_multipart([b"t0", p.request_header(0), b"", b"x"])
        for posts in _posts(balancers, 0.3):
            assert posts and posts[-1][1] == 4, posts
        # partitioned, it posts nothing
        balancers[0].send_multipart([b"t0", p.FAULT, p.encode_json({"kind": "drop"})])
        _posts(balancers, 0.1)  # (a post already on its way)
        assert _posts(balancers, 0.5) == [[], []]
    finally:
        stop_process(target)
        for sock in balancers:
            sock.close(0)


def test_balancers_on_reports_see_the_requests_other_balancers_sent():
    case = dataclasses.replace(scenario("uniform", "least_connections"), balancers=2)
    case = case.with_settings({"view": "reports", "view_period_s": PERIOD_S})
    with LiveProcesses(case, seed=1) as rig:
        rig.wait_ready()
        for index in range(2):  # every target's posts reach each balancer
            _until(lambda i=index: rig.control({"cmd": "stats"}, index=i)["load_reports"][
                "taken"] >= 4 * 10)  # fmt: skip
        # every target stalls; five requests through the second balancer wait at them
        for target_id in rig.targets:
            rig.control({"cmd": "fault", "target": target_id, "kind": "stall", "duration_s": 5})
        client = zmq.Context.instance().socket(zmq.DEALER)
        client.setsockopt(zmq.LINGER, 0)
        client.connect(rig.frontends[1])
        for i in range(5):
            client.send_multipart([b"", b"call %d" % i])
        try:
            # the first balancer sent nothing, and its reports say five requests wait
            def first_sees_five() -> bool:
                stats = rig.control({"cmd": "stats"}, index=0)
                return sum(b["load"] for b in stats["backends"]) == 5

            _until(first_sees_five)
            own = rig.control({"cmd": "stats"}, index=0)
            assert sum(b["in_flight"] for b in own["backends"]) == 0
        finally:
            client.close(0)


def _until(condition, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.02)  # sleep-ok: the interval of a poll bounded by its deadline
