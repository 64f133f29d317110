"""What the /balancer page charts: the swarm second by second, with its fault windows.

A sample per ``SAMPLE_S`` while Locust runs: each backend's share of the
attempts made in that interval against its fair share and its health;
the interval's p50 and p99, both as Locust measures them (from each
call's start: "raw") and corrected for coordinated omission (lbbench's
histogram); requests and errors in the interval. The interval's
latencies come from a recorder that ``SwarmRecorder`` fills beside the
run's own and that each sample empties (distributed: what the workers
reported since, every few seconds).

Fault windows: each fault injected from the page opens a window on its
target, closed by a later ``recover`` on it, by its ``duration_s``, or,
for a crash, when the target is back and healthy; the balancer's own
view shows as health per backend and sample (a down or ejected backend
is shaded even when nobody injected anything: a profile's scheduled
fault, a target killed by hand).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from lbbench.results.recorder import Recorder, summarize

SAMPLE_S = 1.0
KEEP = 3600  # samples: an hour at one a second, then the oldest go


class FleetHistory:
    """Samples of the fleet over time and the faults injected into it."""

    def __init__(self, keep: int = KEEP) -> None:
        self.samples: deque[dict[str, Any]] = deque(maxlen=keep)
        self.faults: list[dict[str, Any]] = []
        self._seen_down: set[int] = set()  # crash windows (by index) whose target was seen away
        self._attempts: dict[str, int] = {}

    def sample(
        self,
        t: float,
        stats: dict[str, Any] | None,
        expected: dict[str, float],
        window: Recorder,
        error: str | None = None,
    ) -> dict[str, Any]:
        """Add the sample at ``t`` seconds into the run: the balancer's ``stats`` (None when it
        did not answer, with ``error``) and the calls recorded since the previous sample."""
        sample: dict[str, Any] = {
            "t": round(t, 3),
            "requests": window.sent,
            "errors": sum(n for status, n in window.outcomes.items() if status != "ok"),
            "latency_ms": _latency(window),
            "balancer": "answering" if stats is not None else f"not answering: {error}",
            "backends": {},
        }
        if stats is not None:
            attempts = {b["id"]: b["sent"] for b in stats["backends"]}
            made = {b: n - self._attempts.get(b, 0) for b, n in attempts.items()}
            total = sum(max(0, n) for n in made.values())
            self._attempts = attempts
            sample["backends"] = {
                b["id"]: {
                    "share": max(0, made[b["id"]]) / total if total else None,
                    "expected": expected.get(b["id"], 0.0),
                    "health": b["health"],
                }
                for b in stats["backends"]
            }
            self._close_crash_windows(t, sample["backends"])
        self.samples.append(sample)
        return sample

    def fault(self, t: float, target: str, command: dict[str, Any]) -> None:
        """A fault the page injected (the balancer accepted it) at ``t`` seconds into the run."""
        kind = command.get("kind", "")
        for window in self.faults:  # a new fault on a target ends the one in force there
            if window["target"] == target and window["end"] is None:
                window["end"] = t
        if kind in ("recover", "end"):  # they end faults; they open no window
            return
        detail = {k: v for k, v in command.items() if k not in ("kind", "duration_s")}
        duration = command.get("duration_s")
        self.faults.append(
            {
                "target": target,
                "kind": kind,
                "detail": detail,
                "start": round(t, 3),
                "end": round(t + duration, 3) if isinstance(duration, int | float) else None,
            }
        )

    def _close_crash_windows(self, t: float, backends: dict[str, dict[str, Any]]) -> None:
        for index, window in enumerate(self.faults):
            if window["kind"] != "crash" or window["end"] is not None:
                continue
            state = backends.get(window["target"])
            # back: healthy again after it was seen away (a crash takes a moment to show)
            if state is not None and state["health"] == "healthy":
                if index in self._seen_down:
                    window["end"] = round(t, 3)
            else:
                self._seen_down.add(index)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sample_s": SAMPLE_S,
            "samples": list(self.samples),
            "faults": list(self.faults),
        }


def _latency(window: Recorder) -> dict[str, Any] | None:
    if not window.sent:
        return None
    corrected, raw = summarize(window.corrected), summarize(window.uncorrected)
    return {
        "p50": corrected["p50"],
        "p99": corrected["p99"],
        "raw_p50": raw["p50"],
        "raw_p99": raw["p99"],
    }
