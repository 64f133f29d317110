"""The live rig with stock ZeroMQ clients: REQ works unchanged, bad frames are answered."""

from __future__ import annotations

import zmq

from lbbench.runner import Rig
from tests.integration.helpers import request, scenario


def test_a_stock_req_socket_gets_correct_replies_through_the_balancer():
    with Rig(scenario("uniform"), seed=1) as rig:
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
    with Rig(scenario("uniform"), seed=1) as rig:
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
    with Rig(scenario("uniform", strategy="p2c"), seed=1) as rig:
        rig.wait_ready()
        cases = [
            ({"cmd": "fault", "target": "t9", "kind": "slow"}, "unknown target 't9'"),
            ({"cmd": "fault", "target": "t1", "kind": "melt"}, "unknown fault kind 'melt'"),
            ({"cmd": "set", "strategy": "fastest"}, "unknown strategy 'fastest'"),
            ({"cmd": "set", "failover": "retry,teleport"}, "unknown failover mode 'teleport'"),
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
