"""Overload is answered, not queued: every request gets one answer within its deadline plus a
stated slack, and the ok throughput stays near capacity.

Two kinds of overload, both on real processes on 127.0.0.1:

- the fleet's: the shipped overload suite's cells at ten times the
  fleet's capacity (two targets, 400 requests/s between them);
- the balancer's own: a balancer made slower than its load
  (``slow_balancer``: 400 us more CPU per request, so at most about
  2 500 requests/s) offered 8 000 requests/s; it reads everything,
  answers ``overloaded`` at once what would join a standing queue in its
  inbox (and anything that waited there longer than its max wait), and
  serves the rest.
"""

from __future__ import annotations

import dataclasses

import psutil
import pytest

from lbbench.rigs.live import LiveProcesses, LiveRig
from lbbench.rigs.loadgen import LoadRun
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.suites import load_suite
from lbbench.vocabulary import OUTCOMES
from tests.integration.helpers import scenario

FLEET_CAPACITY_RPS = 400.0  # the overload suite's fleet: 2 targets x 1 at a time / 5 ms
SLACK_S = 0.05  # beyond the deadline (or the inbox's max wait), for one turn of the loop

# (the suite's cell at 10x capacity, the least share of capacity served ok,
#  the latest any answer may come, in seconds)
TEN_TIMES = [
    ("p2c at 10x capacity, admission", 0.8, 1.0 + SLACK_S),
    ("p2c at 10x capacity, max_pending 8", 0.8, 1.0 + SLACK_S),
    # No admission control: every request still gets its answer by its
    # deadline, but the fleet serves requests that have waited most of it,
    # so most of its work is wasted (goodput collapses; documented).
    ("p2c at 10x capacity, no bound", 0.0, 1.0 + SLACK_S),
]


@pytest.mark.parametrize(("name", "least_share", "latest_s"), TEN_TIMES)
def test_ten_times_the_fleets_capacity(name, least_share, latest_s):
    [cell] = [s for s in load_suite("overload").scenarios if s.name == name]
    cell = dataclasses.replace(cell, load=dataclasses.replace(cell.load, duration_s=3.0))
    trial = LiveRig().run_trial(cell, 0)
    requests = trial["requests"]
    assert trial["valid"], trial["problems"]
    assert requests["lost"] == 0
    assert requests["sent"] == sum(requests[status] for status in OUTCOMES)
    assert trial["latency_ms"]["corrected"]["max"] <= latest_s * 1e3
    assert trial["throughput_rps"] >= least_share * FLEET_CAPACITY_RPS


def test_a_balancer_slower_than_its_load_sheds_the_excess_at_once(monkeypatch):
    cost_s = 400e-6
    monkeypatch.setenv("LBBENCH_TEST_COST_US", str(cost_s * 1e6))
    case = scenario("uniform", "round_robin")
    with LiveProcesses(case, seed=1, balancer_module="tests.integration.slow_balancer") as rig:
        rig.wait_ready()
        # What this slowed balancer could serve with a core of its own, on this machine,
        # now: its CPU per request, measured on a load it keeps up with (four clients
        # each sending as soon as its answer is back: nothing is shed; a light load
        # costs more per request than a heavy one, whose work is batched, so this is
        # a floor of its capacity: 1 520 to 1 550/s here, served 1 560 to 2 030 ok/s).
        # Machines differ (the same code costs 3x more per request on another machine of
        # this kind), so the test holds the balancer to a share of that, not a constant.
        balancer = psutil.Process(rig.balancer.popen.pid)
        cpu = sum(balancer.cpu_times()[:2])
        burst = LoadSpec(rate=1e6, duration_s=2.0, mode="closed", clients=4, drain_s=1.0)
        best = LoadRun(burst, rig.frontend, seed=2).wait(timeout_s=30.0).recorder
        cpu = sum(balancer.cpu_times()[:2]) - cpu
        assert best.outcomes.get("overloaded", 0) == 0 and best.outcomes["ok"] > 0
        capacity_rps = best.outcomes["ok"] / cpu
        before = rig.control({"cmd": "stats"})
        load = LoadSpec(rate=8000.0, duration_s=3.0, arrival="constant", drain_s=2.0)
        report = LoadRun(load, rig.frontend, seed=1).wait(timeout_s=30.0)
        stats = rig.control({"cmd": "stats"})
    recorder = report.recorder
    max_wait_s = stats["limits"]["max_wait_s"]
    assert recorder.lost == 0 and recorder.unknown_replies == 0
    received = stats["received"] - before["received"]
    assert before["received"] == before["answered"]
    assert recorder.sent == received == stats["answered"] - before["answered"]
    shed = stats["shed"]["queue"] + stats["shed"]["waited"]  # on arrival, or after max_wait
    assert shed == recorder.outcomes["overloaded"] > 0.3 * recorder.sent
    # Shed ones in max_wait, served ones in a few ms: nothing waits for the deadline.
    assert recorder.corrected.get_max_value() / 1e6 <= max_wait_s + 2 * SLACK_S
    served_rps = recorder.outcomes["ok"] / load.duration_s
    # It shares two cores with the generator and four targets, and shedding the excess
    # costs CPU too (reading and answering 5 000 requests/s), but it keeps serving: a
    # collapse would serve a small fraction (a FIFO fleet at 10x serves 18 %,
    # test_ten_times_the_fleets_capacity).
    print(f"served {served_rps:.0f} ok/s of a capacity of {capacity_rps:.0f}/s")
    assert served_rps >= 0.4 * capacity_rps, (served_rps, capacity_rps)
