"""Hostile or careless peers against a live balancer: none can crash it, impersonate a target
or strand requests; every case below once did (issue 14), and stays a regression test.

Each test starts a real rig on 127.0.0.1 (a balancer and the uniform profile's four
targets), acts as a rogue client, target or controller on real sockets, and checks
that the balancer is still running and still serving a well-formed client.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq

from lbbench.rigs.live import LiveProcesses
from tests.integration.helpers import request, scenario


def alive_and_serving(rig: LiveProcesses) -> None:
    assert rig.balancer.popen.poll() is None, rig.balancer.last_words()
    for i in range(8):
        status, _, payload = request(rig.frontend, b"well formed %d" % i)
        assert (status, payload) == (b"ok", b"well formed %d" % i)


def control_frames(rig: LiveProcesses, *frames: bytes) -> dict:
    """A raw control request (any frames), on a socket of its own."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(rig.endpoints["control"])
    try:
        sock.send_multipart(list(frames))
        assert sock.poll(5000), "the control endpoint did not answer"
        import json

        return json.loads(sock.recv())
    finally:
        sock.close(0)


def peer(rig: LiveProcesses, identity: bytes) -> zmq.Socket:
    """A DEALER on the backend socket claiming ``identity``, as a target would."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(rig.endpoints["backend"])
    return sock


def poll_until(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)  # sleep-ok: the interval of a poll bounded by its deadline
    raise AssertionError(f"timed out waiting for {what}")


CONTROL = [
    # frames of a control request, words of the error it must get
    ([b"[" * 60_000], "not JSON"),  # a RecursionError in the parser, once fatal
    ([b"[" * 100_000], "at most 65536 bytes"),
    ([b'{"cmd": "ping"}', b"second frame"], "one frame"),  # left the REP socket stuck
    ([b'{"cmd": "events", "since": 1e400}'], "events.since: must be an integer"),
    ([b'{"cmd": "events", "since": -3}'], "events.since: must be >= 0"),
    (
        [b'{"cmd": "set", "strategy": "maglev", "options": {"table_size": 100000000000031}}'],
        "table_size: must be <= 1000003",  # froze the balancer, then a MemoryError
    ),
    ([b'{"cmd": "set", "failover": "retry", "budget_ratio": 0.1}'], "set.budget_ratio"),
    ([b'{"cmd": "fault", "target": "t1", "kind": "slow", "factor": 1e9}'], "factor"),
    ([b'{"cmd": "fault", "target": "t1", "kind": "hang", "color": "red"}'], "color"),
    ([b'{"cmd": "stats", "extra": 1}'], "stats.extra: unknown key"),
    ([b"\xff\xfe"], "not JSON"),
    ([b"x" * 70_000], "at most 65536 bytes"),
]


def test_no_control_request_crashes_the_balancer_and_each_gets_one_line():
    with LiveProcesses(scenario("uniform", "p2c", ("eject", "retry")), seed=1) as rig:
        rig.wait_ready()
        for frames, words in CONTROL:
            answer = control_frames(rig, *frames)
            assert answer["ok"] is False and words in answer["error"], (frames[0][:40], answer)
            assert control_frames(rig, b'{"cmd": "ping"}') == {"ok": True}
        alive_and_serving(rig)


def test_a_fault_with_a_duration_ends_by_itself():
    with LiveProcesses(scenario("uniform", "round_robin"), seed=1) as rig:
        rig.wait_ready()
        answer = rig.control({"cmd": "fault", "target": "t1", "kind": "hang", "duration_s": 0.5})
        assert answer["ok"] and answer["fault"]["duration_s"] == 0.5
        time.sleep(0.7)  # sleep-ok: past the fault's end, which is what is tested
        alive_and_serving(rig)  # round robin sends two of these to t1: it answers again


@pytest.mark.parametrize("weight", [b"1e400", b'"heavy"', b"0", b"-3", b"100000", b"true"])
def test_a_ready_with_a_bad_weight_is_ignored(weight):
    with LiveProcesses(scenario("uniform", "p2c"), seed=1) as rig:
        rig.wait_ready()
        rogue = peer(rig, b"rogue")
        rogue.send_multipart([b"READY", b'{"weight": ' + weight + b"}"])
        alive_and_serving(rig)
        ids = {b["id"] for b in rig.control({"cmd": "stats"})["backends"]}
        assert "rogue" not in ids
        rogue.close(0)


HOSTILE_IDS = [
    b"<img src=x onerror=\"document.title='PWNED'\">",  # once ran in the balancer page
    b"t0 ",
    b"\xff\xfe",
    b"a" * 65,
    b"tab\there",
]


def test_a_peer_whose_id_is_not_a_target_id_is_refused_once_in_the_log_and_counted():
    with LiveProcesses(scenario("uniform", "p2c"), seed=1) as rig:
        rig.wait_ready()
        rogues = [peer(rig, identity) for identity in HOSTILE_IDS]
        for _ in range(3):  # repeating itself gets a peer no more lines in the log
            for rogue in rogues:
                rogue.send_multipart([b"READY", b"{}"])
        refused = len(HOSTILE_IDS) * 3
        poll_until(
            lambda: rig.control({"cmd": "stats"})["refused_ready"] == refused, 10, "the count"
        )
        alive_and_serving(rig)
        ids = {b["id"] for b in rig.control({"cmd": "stats"})["backends"]}
        assert ids == {"t0", "t1", "t2", "t3"}
        for rogue in rogues:
            rogue.close(0)
        log = Path(rig.balancer.log.name).read_text(errors="replace")  # stderr: line-buffered
        lines = [line for line in log.splitlines() if "refused READY" in line]
        assert len(lines) == len(HOSTILE_IDS), lines
        assert all("must" in line for line in lines), lines


def test_a_second_peer_cannot_take_over_a_connected_targets_id():
    with LiveProcesses(scenario("uniform", "round_robin"), seed=1) as rig:
        rig.wait_ready()
        hijacker = peer(rig, b"t0")
        hijacker.send_multipart([b"READY", b'{"weight": 99}'])
        hijacker.send_multipart([b"BYE"])
        seen = set()
        for i in range(40):
            while hijacker.poll(0):  # answer whatever reaches it, as a hijacker would
                frames = hijacker.recv_multipart()
                if frames[0][:3] == b"REQ":
                    hijacker.send_multipart([b"REP" + frames[0][3:] + b"ok", b"HIJACKED"])
            _, backend, payload = request(rig.frontend, b"mine %d" % i)
            assert payload != b"HIJACKED"
            seen.add(backend)
        assert seen == {b"t0", b"t1", b"t2", b"t3"}  # t0 is still the real t0
        t0 = next(b for b in rig.control({"cmd": "stats"})["backends"] if b["id"] == "t0")
        assert (t0["weight"], t0["health"]) == (1, "healthy")
        hijacker.close(0)


def test_forged_replies_reach_no_client():
    with LiveProcesses(scenario("uniform", "round_robin"), seed=1) as rig:
        rig.wait_ready()
        rogue = peer(rig, b"rogue")
        rogue.send_multipart([b"READY", b"{}"])
        poll_until(
            lambda: "rogue" in {b["id"] for b in rig.control({"cmd": "stats"})["backends"]},
            5,
            "the rogue to join",
        )
        clients = []
        for i in range(30):
            sock = zmq.Context.instance().socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(rig.frontend)
            sock.send(b"client %d" % i)
            clients.append(sock)
        # its own attempts tell it nothing of the others' ids: it guesses around them
        forged = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if rogue.poll(10):
                frames = rogue.recv_multipart()
                if frames[0][:3] == b"REQ":
                    own = int.from_bytes(frames[0][3:], "big")
                    for guess in range(own - 50, own + 50):
                        if guess != own and 0 <= guess < 1 << 64:
                            header = b"REP" + guess.to_bytes(8, "big") + b"ok"
                            rogue.send_multipart([header, b"FORGED"])
                            forged += 1
        payloads = []
        for sock in clients:
            assert sock.poll(5000)
            payloads.append(sock.recv_multipart()[2])
            sock.close(0)
        assert forged > 0 and b"FORGED" not in payloads
        rogue.send_multipart([b"BYE"])  # it leaves, so that it gets no more requests
        poll_until(
            lambda: rig.control({"cmd": "stats"})["backends"][-1]["health"] == "left",
            5,
            "the rogue to leave",
        )
        rogue.close(0)
        alive_and_serving(rig)


def test_peers_that_vanish_without_a_word_are_forgotten():
    rig_scenario = scenario("uniform", "round_robin")
    with LiveProcesses(rig_scenario, seed=1, balancer_args=("--forget-after", "1")) as rig:
        rig.wait_ready()
        ghosts = [peer(rig, b"ghost-%d" % n) for n in range(10)]
        for ghost in ghosts:
            ghost.send_multipart([b"READY", b"{}"])

        def joined():
            ids = {b["id"] for b in rig.control({"cmd": "stats"})["backends"]}
            return {f"ghost-{n}" for n in range(10)} <= ids

        poll_until(joined, 5, "the ghosts to join")
        for ghost in ghosts:  # they vanish: no goodbye, no more heartbeats
            ghost.close(0)

        def ghosts_gone():
            backends = rig.control({"cmd": "stats"})["backends"]
            ghosts = [b for b in backends if b["id"].startswith("ghost")]
            return len(ghosts) == 10 and all(b["health"] == "left" for b in ghosts)

        poll_until(ghosts_gone, 10, "the ghosts to be forgotten")
        events = rig.control({"cmd": "events"})["events"]
        assert any(e["kind"] == "leave" and "silent for" in e["detail"] for e in events)
        alive_and_serving(rig)  # fail_fast: every request ok, none sent to a ghost
