"""Floods on the backend socket: one peer, in a process of its own, sends heartbeats as fast
as it can without ever joining, or forged replies, while a polite client sends 400 requests/s
to two 2 ms targets. Each peer has a budget (``lbbench.balancer.budget``): what its traffic
does not explain is dropped and counted, a peer far over it is quarantined and named, a
peer that has not joined is asked who it is at most once a second, and ids that never join
leave no record; a quarantined peer's connection is closed. Measured side by side in one
run (the polite client alone, then with each flood), written in docs/rig.md.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lbbench.rigs.live import LiveProcesses
from lbbench.rigs.loadgen import LoadRun
from lbbench.scenario.load import LoadSpec
from tests.integration.helpers import scenario, stop_process

PHASE_S = 5.0
TWO_FAST_TARGETS = """
name = "two-fast"
description = "two targets, 2 ms each"
[defaults]
capacity = 4
latency = { dist = "fixed", ms = 2.0 }
[[target]]
id = "t0"
[[target]]
id = "t1"
"""
FLOODER = textwrap.dedent(
    """
    import os, sys, time, zmq
    kind, backend, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sock = zmq.Context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, b"flooder")
    sock.connect(backend)
    frames = [b"HB"] if kind == "heartbeats" else [b"REP" + os.urandom(8) + b"ok", b"forged"]
    end = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < end:  # bounded in time; as fast as it can meanwhile
        for _ in range(1000):
            try:
                sock.send_multipart(frames, zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                pass
    print(sent)
    """
)


def polite(rig, seed: int) -> tuple[float, float]:
    load = LoadSpec(rate=400.0, duration_s=PHASE_S, arrival="poisson", drain_s=1.0)
    report = LoadRun(load, rig.frontend, seed=seed).wait(timeout_s=30.0)
    recorder = report.recorder
    assert recorder.lost == 0 and recorder.outcomes["ok"] >= 0.99 * recorder.sent
    histogram = recorder.corrected
    return histogram.get_value_at_percentile(50) / 1e3, histogram.get_value_at_percentile(99) / 1e3


@pytest.mark.slow
def test_a_flooding_peer_barely_moves_a_polite_clients_latency(tmp_path, capsys):
    profile = tmp_path / "two-fast.toml"
    profile.write_text(TWO_FAST_TARGETS)
    with LiveProcesses(scenario(str(profile), "round_robin"), seed=1) as rig:
        rig.wait_ready()
        figures = {"alone": polite(rig, 1)}
        for kind in ("heartbeats", "replies"):
            flooder = subprocess.Popen(
                [sys.executable, "-c", FLOODER, kind, rig.endpoints["backend"], str(PHASE_S + 1)],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                figures[kind] = polite(rig, 1)
                sent = int(flooder.communicate(timeout=30)[0])
            finally:
                stop_process(flooder)
            budget = rig.control({"cmd": "stats"})["backend_budget"]
            figures[kind] += (sent, budget["dropped"], budget["asked_who"])
        stats = rig.control({"cmd": "stats"})
    with capsys.disabled():
        for name, figure in figures.items():
            print(f"\n{name}: p50 {figure[0]:.2f} ms, p99 {figure[1]:.2f} ms", *figure[2:])
    budget = stats["backend_budget"]
    assert budget["quarantines"] >= 1 and budget["asked_who"] <= 2 * (PHASE_S + 2)
    assert budget["disconnected"] >= 1 and budget["spared"] == 0  # cut, and no target's
    assert {b["id"] for b in stats["backends"]} == {"t0", "t1"}  # the flooder never joined
    # Measured (docs/rig.md): before the budgets a heartbeat flood moved the p50 x2.7
    # and the p99 x4.3; now about +2 % and +40 to 50 %. The bounds leave room for
    # this shared machine's noise, and fail on anything like the old behaviour.
    alone = figures["alone"]
    for kind in ("heartbeats", "replies"):
        p50, p99 = figures[kind][:2]
        assert p50 <= 1.6 * alone[0] and p99 <= 2.5 * alone[1], (kind, figures)
