"""The kinds of event on the simulator's heap, in one place (the engine and the targets
push them; the engine's loop tells them apart)."""

from __future__ import annotations

from typing import Final

DONE: Final = 0  # a target finished a job
TIMER: Final = 1  # a router timer (hedge, probe round, ejection end, ...)
PROBE: Final = 2  # a probe reaches its target
HEARTBEATS: Final = 3  # every live target heartbeats
SAMPLE: Final = 4  # the per-second sample of attempts per backend
FAULT_START: Final = 5
FAULT_END: Final = 6
RESTART: Final = 7  # a crashed target is back
REPORT: Final = 8  # every target posts its load (view "reports")
REPORT_ARRIVES: Final = 9  # a board of posted loads reaches the balancers, view_delay_s late
