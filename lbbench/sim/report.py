"""The simulated generator's report: what the live generator's report says, in simulated time."""

from __future__ import annotations

from typing import Any

from lbbench.results.recorder import Recorder


class SimReport:
    """The simulated generator's report: same interface as the live one."""

    def __init__(self, recorder: Recorder, offered: float, duration: float) -> None:
        self.recorder = recorder
        self.offered_rate = offered
        self.duration = duration
        self.problems: list[str] = []
        self.events = 0
        self.wall_s = 0.0
        self.simulated_s = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "simulated": True,
            "offered_rate": self.offered_rate,
            "achieved_rate": self.recorder.sent / self.duration,
            "elapsed_s": self.simulated_s,
            "send_lag_p99_ms": 0.0,
            "send_lag_max_ms": 0.0,
            "events": self.events,
            "wall_s": self.wall_s,
            "events_per_s": self.events / self.wall_s if self.wall_s > 0 else 0.0,
            "valid": not self.problems,
            "problems": self.problems,
        }
