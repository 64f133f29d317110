"""Fairness and failover timing, on hand-made counts and samples."""

from __future__ import annotations

import pytest

from lbbench.results.measures import failover_timing, fairness

FAIRNESS = [
    # counts, expected shares, jain, max share error
    ({"a": 50, "b": 50}, {"a": 0.5, "b": 0.5}, 1.0, 0.0),
    ({"a": 75, "b": 25}, {"a": 0.75, "b": 0.25}, 1.0, 0.0),
    ({"a": 100, "b": 0}, {"a": 0.5, "b": 0.5}, 0.5, 0.5),
    ({"a": 60, "b": 40}, {"a": 0.5, "b": 0.5}, 1 / 1.04, 0.1),
]


@pytest.mark.parametrize(("counts", "expected", "jain", "error"), FAIRNESS)
def test_fairness(counts, expected, jain, error):
    result = fairness(counts, expected)
    assert result["jain"] == pytest.approx(jain)
    assert result["max_share_error"] == pytest.approx(error)


def samples_with_outage(start: float, end: float):
    """b gets a quarter of attempts, none while it is out in [start + 0.2, end + 0.4)."""
    out, sent = [], {"a": 0, "b": 0}
    t = 0.0
    while t < 6.0:
        out.append((t, dict(sent)))
        b_out = start + 0.2 <= t < end + 0.4
        sent["a"] += 30
        sent["b"] += 0 if b_out else 10
        t = round(t + 0.05, 6)
    return out


def test_detection_and_recovery_from_the_share_of_attempts():
    samples = samples_with_outage(2.0, 4.0)
    timing = failover_timing("b", 2.0, 4.0, 0.25, samples, events=[])
    # share falls below half its due once the 5-sample window is mostly past 2.2 s
    assert 0.2 <= timing["detection_s"] <= 0.45
    assert 0.4 <= timing["recovery_s"] <= 0.7


def test_a_health_event_counts_as_detection_when_it_comes_first():
    samples = samples_with_outage(2.0, 4.0)
    events = [{"backend": "b", "kind": "eject", "at": 2.05}]
    assert failover_timing("b", 2.0, 4.0, 0.25, samples, events)["detection_s"] == pytest.approx(
        0.05
    )


def test_never_detected_when_traffic_keeps_flowing():
    samples = samples_with_outage(100.0, 101.0)  # no outage inside the run
    timing = failover_timing("b", 2.0, 4.0, 0.25, samples, events=[])
    assert timing["detection_s"] is None
    assert timing["recovery_s"] == pytest.approx(0.25, abs=0.06)
