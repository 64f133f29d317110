"""Fairness across backends and failover timing, from counts and samples."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any


def fairness(counts: Mapping[str, int], expected: Mapping[str, float]) -> dict[str, float]:
    """How evenly traffic followed the expected shares.

    Each backend's load is normalised by its expected share (x = share /
    expected), so a perfect weighted split gives x = 1 everywhere. Reported:
    Jain's index of x (1 = perfectly fair, 1/n = all on one), coefficient of
    variation of x, max/mean of x, and the largest absolute share error.
    Backends expected to take nothing (idle backups) enter only the share
    error.
    """
    total = sum(counts.values())
    if total == 0:
        return {"jain": 0.0, "cv": 0.0, "max_over_mean": 0.0, "max_share_error": 0.0}
    shares = {b: counts.get(b, 0) / total for b in expected}
    normalised = [shares[b] / e for b, e in expected.items() if e > 0]
    mean = statistics.fmean(normalised) if normalised else 0.0
    squares = sum(x * x for x in normalised)
    jain = (sum(normalised) ** 2) / (len(normalised) * squares) if squares else 0.0
    cv = statistics.pstdev(normalised) / mean if mean else 0.0
    return {
        "jain": jain,
        "cv": cv,
        "max_over_mean": max(normalised) / mean if mean else 0.0,
        "max_share_error": max(abs(shares[b] - e) for b, e in expected.items()),
    }


# A sample is (time, {backend: attempts sent so far}).
Sample = tuple[float, Mapping[str, int]]

DETECT_EVENTS = ("eject", "down", "open", "leave")
WINDOW_SAMPLES = 5  # share measured over this many consecutive samples


def _window_shares(
    samples: Sequence[Sample], backend: str
) -> list[tuple[float, float, float | None]]:
    """(window start, window end, backend's share of the attempts in the window)."""
    out: list[tuple[float, float, float | None]] = []
    for i in range(WINDOW_SAMPLES, len(samples)):
        t0, before = samples[i - WINDOW_SAMPLES]
        t1, after = samples[i]
        total = sum(after.values()) - sum(before.values())
        mine = after.get(backend, 0) - before.get(backend, 0)
        out.append((t0, t1, mine / total if total > 0 else None))
    return out


def failover_timing(
    backend: str,
    start: float,
    end: float | None,
    expected_share: float,
    samples: Sequence[Sample],
    events: Sequence[Mapping[str, Any]],
) -> dict[str, float | None]:
    """Detection and recovery times (seconds) of one fault on ``backend``.

    Detection: from the fault's start until the balancer acts on it: the
    first health event that takes the backend out (eject, heartbeat down,
    breaker open) or the first window in which its share of attempts falls
    below half its expected share, whichever is first. Recovery: from the
    fault's end until the first window in which it again gets at least half
    its expected share. None when it never happened in the run.
    """
    detected: float | None = None
    for event in events:
        if event["backend"] == backend and event["kind"] in DETECT_EVENTS and event["at"] >= start:
            if end is None or event["at"] <= end:
                detected = event["at"]
            break
    threshold = expected_share / 2
    windows = _window_shares(samples, backend)
    for window_start, t, share in windows:
        if window_start < start or share is None:
            continue
        if end is not None and t > end:
            break
        if share < threshold:
            if detected is None or t < detected:
                detected = t
            break
    recovered: float | None = None
    if end is not None:
        for window_start, t, share in windows:
            if window_start < end or share is None:
                continue
            if share >= threshold:
                recovered = t
                break
    return {
        "detection_s": None if detected is None else detected - start,
        "recovery_s": None if recovered is None or end is None else recovered - end,
    }
