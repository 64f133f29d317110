"""Locust through Envoy, HAProxy and NGINX: ``lbbench locust --balancer <proxy>`` runs the gRPC
users through the proxy; the balancer page shows the proxy's own view of its targets and
injects faults into them (marked slow: CI's slow stage runs it, with the proxies installed).

Every run is bounded (-t, deadlines on every wait), binds 127.0.0.1 only, and stops every
process it started.
"""

from __future__ import annotations

import signal

import pytest

from tests.integration.test_locust import (
    finish,
    free_port,
    get,
    lbbench_locust,
    only_result,
    poll,
    post,
)
from tests.proxies.helpers import PROXIES, binary_or_skip

pytestmark = pytest.mark.slow

# proxy: what its own view can say of a crashed target (NGINX shows no health at all)
TAKEN_OUT = {"envoy": {"down", "ejected"}, "haproxy": {"down"}, "nginx": None}


@pytest.mark.parametrize("proxy", PROXIES)
def test_locust_through_the_proxy_shows_its_view_and_injects_a_crash(tmp_path, proxy):
    binary_or_skip(proxy)
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    process = lbbench_locust(
        "--balancer", proxy, "--targets", "uniform", "--strategy", "round_robin",
        "--failover", "eject,retry", "--restart-s", "120",  # the crashed target stays down
        "--out", str(tmp_path), "--web-port", str(port), "--autostart",
        "-u", "6", "-r", "6", "-t", "60s",
    )  # fmt: skip
    try:
        poll(lambda: get(f"{web}/balancer/data")["requests"]["sent"] > 200, 60, "traffic")
        data = get(f"{web}/balancer/data")
        assert data["balancer"] == proxy and data["strategy"] == "round_robin"
        assert [b["backend"] for b in data["backends"]] == ["t0", "t1", "t2", "t3"]
        assert all(b["attempts"] > 0 for b in data["backends"]), data["backends"]
        # the routing is the proxy's config: a switch is refused in one line, nothing changes
        code, answer = post(f"{web}/balancer/set", {"strategy": "p2c"})
        assert code == 400 and "fixed for the run" in answer["error"], answer
        code, answer = post(f"{web}/balancer/fault", {"target": "t9", "kind": "crash"})
        assert code == 400 and "unknown target 't9'" in answer["error"], answer
        # a crash of t1 (through its gRPC Fault call): the proxy stops sending it calls
        code, answer = post(f"{web}/balancer/fault", {"target": "t1", "kind": "crash"})
        assert code == 200 and answer["ok"], answer
        if TAKEN_OUT[proxy] is not None:

            def t1_out():
                (t1,) = [b for b in get(f"{web}/balancer/data")["backends"] if b["backend"] == "t1"]
                return t1["health"] in TAKEN_OUT[proxy]

            poll(t1_out, 20, f"{proxy} taking t1 out")
        marked = {b["backend"]: b["attempts"] for b in get(f"{web}/balancer/data")["backends"]}

        def window():
            now = {b["backend"]: b["attempts"] for b in get(f"{web}/balancer/data")["backends"]}
            return now if sum(now.values()) - sum(marked.values()) >= 300 else None

        after = poll(window, 30, "300 more attempts")
        gained = {k: after[k] - marked[k] for k in after}
        assert gained["t1"] < 0.1 * sum(gained.values()), gained
    finally:
        process.send_signal(signal.SIGINT)
        code, _, err = finish(process, timeout=60)
    assert code in (0, 1), err[-2000:]
    (scenario,) = only_result(tmp_path)["scenarios"]
    assert scenario["balancer"] == proxy and f"{proxy}:round_robin" in scenario["key"]
    summary = scenario["summary"]
    assert summary["requests"]["sent"] > 500
    # the calls went through the proxy to every target (the replies name it)
    assert all(b["served_ok"] > 0 for b in summary["backends"]), summary["backends"]
    if TAKEN_OUT[proxy] is not None:  # the proxy's view taking t1 out is an event, timed
        (trial,) = scenario["trials"]
        kinds = {e["kind"] for e in trial["events"] if e["backend"] == "t1"}
        assert kinds & {"eject", "down"}, trial["events"]
