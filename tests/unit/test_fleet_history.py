"""The /balancer page's charts: shares per interval, latency per window, fault windows."""

from __future__ import annotations

import pytest

from lbbench.results.recorder import Recorder
from lbbench.swarm.history import FleetHistory


def stats(sent: dict[str, int], health: dict[str, str] | None = None) -> dict:
    health = health or {}
    return {
        "backends": [
            {"id": b, "sent": n, "health": health.get(b, "healthy")} for b, n in sent.items()
        ]
    }


def window(*latencies_ms: float, errors: int = 0) -> Recorder:
    recorder = Recorder()
    for latency in latencies_ms:
        recorder.sent += 1
        recorder.uncorrected.record_value(int(latency * 1000))
        recorder.corrected.record_value(int(latency * 1000))
        recorder.outcomes["ok"] += 1
    recorder.sent += errors
    recorder.outcomes["error"] += errors
    return recorder


FAIR = {"t0": 0.5, "t1": 0.5}


def test_shares_are_of_the_attempts_made_in_each_interval_not_since_the_start():
    history = FleetHistory()
    first = history.sample(1.0, stats({"t0": 50, "t1": 50}), FAIR, window(1.0))
    second = history.sample(2.0, stats({"t0": 140, "t1": 60}), FAIR, window(2.0))
    assert first["backends"]["t0"]["share"] == pytest.approx(0.5)
    assert second["backends"]["t0"]["share"] == pytest.approx(0.9)  # 90 of the 100 since
    assert second["backends"]["t1"]["expected"] == 0.5


def test_an_interval_with_no_attempts_has_no_share_and_no_latency():
    history = FleetHistory()
    history.sample(1.0, stats({"t0": 5, "t1": 5}), FAIR, window(1.0))
    quiet = history.sample(2.0, stats({"t0": 5, "t1": 5}), FAIR, Recorder())
    assert quiet["backends"]["t0"]["share"] is None
    assert quiet["latency_ms"] is None and quiet["requests"] == 0


def test_the_window_latency_and_errors_are_the_windows_own():
    history = FleetHistory()
    sample = history.sample(1.0, stats({"t0": 3, "t1": 1}), FAIR, window(1, 2, 100, errors=2))
    assert sample["requests"] == 5 and sample["errors"] == 2
    assert sample["latency_ms"]["p50"] == pytest.approx(2.0, rel=0.01)
    assert sample["latency_ms"]["raw_p99"] == pytest.approx(100.0, rel=0.01)


def test_a_balancer_that_does_not_answer_is_a_sample_that_says_so():
    history = FleetHistory()
    sample = history.sample(1.0, None, {}, window(1.0), error="no answer to 'stats'")
    assert sample["balancer"] == "not answering: no answer to 'stats'"
    assert sample["backends"] == {}


# (faults injected as (t, target, command), samples as (t, health of t1), expected windows)
WINDOWS = [
    pytest.param(
        [(1.0, "t1", {"kind": "slow", "factor": 10}), (4.0, "t1", {"kind": "recover"})],
        [],
        [("t1", "slow", 1.0, 4.0)],
        id="a slow target until recovered",
    ),
    pytest.param(
        [(1.0, "t1", {"kind": "hang", "duration_s": 2.5})],
        [],
        [("t1", "hang", 1.0, 3.5)],
        id="a fault for a given time",
    ),
    pytest.param(
        [(1.0, "t1", {"kind": "slow", "factor": 2}), (2.0, "t1", {"kind": "drop"})],
        [],
        [("t1", "slow", 1.0, 2.0), ("t1", "drop", 2.0, None)],
        id="a new fault on a target ends the one before",
    ),
    pytest.param(
        [(1.0, "t1", {"kind": "crash"})],
        [(1.5, "healthy"), (2.0, "down"), (3.0, "down"), (4.0, "healthy")],
        [("t1", "crash", 1.0, 4.0)],
        id="a crash until the target is back and healthy",
    ),
    pytest.param(
        [(1.0, "t1", {"kind": "crash"})],
        [(2.0, "down")],
        [("t1", "crash", 1.0, None)],
        id="a crash still down is open",
    ),
]


@pytest.mark.parametrize(("faults", "samples", "expected"), WINDOWS)
def test_fault_windows(faults, samples, expected):
    history = FleetHistory()
    for t, target, command in faults:
        history.fault(t, target, command)
    for t, health in samples:
        history.sample(t, stats({"t0": 1, "t1": 1}, {"t1": health}), FAIR, Recorder())
    windows = history.as_dict()["faults"]
    assert [(w["target"], w["kind"], w["start"], w["end"]) for w in windows] == expected
