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
        load = LoadSpec(rate=8000.0, duration_s=3.0, arrival="constant", drain_s=2.0)
        report = LoadRun(load, rig.frontend, seed=1).wait(timeout_s=30.0)
        stats = rig.control({"cmd": "stats"})
    recorder = report.recorder
    max_wait_s = stats["limits"]["max_wait_s"]
    assert recorder.lost == 0 and recorder.unknown_replies == 0
    assert recorder.sent == stats["received"] == stats["answered"]
    shed = stats["shed"]["queue"] + stats["shed"]["waited"]  # on arrival, or after max_wait
    assert shed == recorder.outcomes["overloaded"] > 0.3 * recorder.sent
    # Shed ones in max_wait, served ones in a few ms: nothing waits for the deadline.
    assert recorder.corrected.get_max_value() / 1e6 <= max_wait_s + 2 * SLACK_S
    served_rps = recorder.outcomes["ok"] / load.duration_s
    assert served_rps >= 0.5 / cost_s  # at least half what the slowed router could do at best
