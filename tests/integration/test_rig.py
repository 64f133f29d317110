"""The live rig with stock ZeroMQ clients: REQ works unchanged, bad frames are answered."""

from __future__ import annotations

import signal
import time

import zmq

from lbbench.rigs.live import LiveProcesses
from lbbench.rigs.loadgen import LoadRun
from tests.integration.helpers import request, scenario


def test_a_stock_req_socket_gets_correct_replies_through_the_balancer():
    with LiveProcesses(scenario("uniform"), seed=1) as rig:
        rig.wait_ready()
        seen = set()
        for i in range(40):
            status, backend, payload = request(rig.frontend, b"hello %d" % i)
            assert (status, payload) == (b"ok", b"hello %d" % i)
            seen.add(backend)
        assert seen == {b"t0", b"t1", b"t2", b"t3"}  # round robin visits every target
        # a routing key and a payload: two frames
        status, backend, payload = request(rig.frontend, b"user-7", b"keyed")
        assert (status, payload) == (b"ok", b"keyed")


def test_malformed_frames_get_a_malformed_reply_and_the_balancer_keeps_serving():
    with LiveProcesses(scenario("uniform"), seed=1) as rig:
        rig.wait_ready()
        assert request(rig.frontend, b"a", b"b", b"c") == [b"malformed", b"", b""]
        # a DEALER without the empty delimiter frame
        context = zmq.Context.instance()
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(rig.frontend)
        dealer.send_multipart([b"no-delimiter"])
        assert dealer.poll(5000)
        assert dealer.recv_multipart()[-3:] == [b"malformed", b"", b""]
        dealer.close(0)
        assert request(rig.frontend, b"still here")[0] == b"ok"
        assert rig.control({"cmd": "stats"})["malformed"] == 2


def test_control_rejects_bad_commands_with_a_clear_error_and_changes_nothing():
    with LiveProcesses(scenario("uniform", strategy="p2c"), seed=1) as rig:
        rig.wait_ready()
        cases = [
            ({"cmd": "fault", "target": "t9", "kind": "slow"}, "unknown target 't9'"),
            ({"cmd": "fault", "target": "t1", "kind": "melt"}, "unknown fault kind 'melt'"),
            ({"cmd": "set", "strategy": "fastest"}, "unknown strategy 'fastest'"),
            ({"cmd": "set", "failover": "retry,teleport"}, "unknown failover mode 'teleport'"),
            ({"cmd": "set", "failover": "retry", "budget_ratio": 0.1}, "set.budget_ratio"),
            (
                {"cmd": "set", "settings": {"failover.retry.budget_ratio": -1}},
                "failover.retry.budget_ratio: must be >= 0.0",
            ),
            ({"cmd": "launch"}, "unknown command 'launch'"),
        ]
        for command, words in cases:
            answer = rig.control(command)
            assert answer["ok"] is False and words in answer["error"], answer
        stats = rig.control({"cmd": "stats"})
        assert (stats["strategy"], stats["failover"]) == ("p2c", "fail_fast")
        assert {b["health"] for b in stats["backends"]} == {"healthy"}
        answer = rig.control({"cmd": "set", "strategy": "peak_ewma", "failover": "eject,retry"})
        assert answer == {"ok": True, "strategy": "peak_ewma", "failover": "eject+retry"}
        answer = rig.control({"cmd": "set", "settings": {"failover.retry.budget_ratio": 0.1}})
        assert answer["ok"], answer
        settings = rig.control({"cmd": "stats"})["settings"]
        assert settings["failover.modes"] == ["eject", "retry"]
        assert settings["failover.retry.budget_ratio"] == 0.1


def test_two_generator_processes_merge_their_histograms_without_loss():
    spec = scenario("uniform", rate=400.0, duration_s=2.0, processes=2)
    with LiveProcesses(spec, seed=1) as rig:
        rig.wait_ready()
        report = LoadRun(spec.load, rig.frontend, seed=5).wait(20.0)
        stats = rig.control({"cmd": "stats"})
    recorder = report.recorder
    assert report.valid, report.problems
    assert recorder.corrected.get_total_count() == recorder.answered == recorder.sent
    assert recorder.sent == stats["received"] == stats["answered"]
    assert 600 <= recorder.sent <= 1000


def test_sigterm_drains_the_balancer_and_answers_everything_in_flight():
    spec = scenario("uniform", strategy="round_robin")
    with LiveProcesses(spec, seed=1) as rig:
        rig.wait_ready()
        for target in ("t0", "t1", "t2", "t3"):
            rig.control({"cmd": "fault", "target": target, "kind": "slow", "factor": 200.0})
        context = zmq.Context.instance()
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(rig.frontend)
        for i in range(20):
            dealer.send_multipart([b"", b"slow %d" % i])
        # wait until the balancer holds all 20
        deadline = time.monotonic() + 5.0
        while rig.control({"cmd": "stats"})["pending"] < 20:
            assert time.monotonic() < deadline, "requests never reached the balancer"
        rig.balancer.popen.send_signal(signal.SIGTERM)
        answers = []
        while len(answers) < 20 and dealer.poll(5000):
            answers.append(dealer.recv_multipart())
        dealer.close(0)
        assert rig.balancer.popen.wait(timeout=10) == 0
    assert len(answers) == 20
    assert {a[1] for a in answers} <= {b"ok", b"timeout"}
