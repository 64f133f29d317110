"""One target's behaviour, whatever carries its messages.

The ZeroMQ target (``lbbench.target``), the gRPC target
(``lbbench.rpc.target``) and the simulator (``lbbench.sim``) are shells
around this class: they move requests in and answers out and own the clock
and the timers; everything a target *does* is here, once, so the three
cannot drift apart:

- its service queue (capacity, first come first served, the latency model,
  a request's own work quantile when it carries one);
- its faults: started (``apply``), ended when their time is up
  (``end_timed``: an antagonist, the machine's condition, stays) or all
  cleared (``recover``);
- whether an answer is an error, drawn from the target's own error stream;
- its answer to a probe (requests in flight and a latency estimate), none
  while it is partitioned;
- whether it heartbeats now (not while partitioned).

A crash is the shell's business (the process ends; the simulator stops
answering and loses what was queued): a target that starts again is a new
``TargetModel``, with its streams from their start, as a new process has.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from lbbench.core import streams
from lbbench.core.fault_state import FaultState
from lbbench.core.service import Job, ServiceQueue
from lbbench.core.target_spec import TargetSpec


class TargetModel:
    __slots__ = ("_draw", "_quantile", "_work_of", "error_draw", "faults", "queue", "spec")

    def __init__(
        self,
        spec: TargetSpec,
        seed: int,
        start: Callable[[float, Job], None],
        work_of: Callable[[Any], float | None] | None = None,
    ) -> None:
        """``start(done_at, job)``: a job went into service (the shell arms its timer and calls
        ``finish(job, done_at)`` then). ``work_of(work)``: the work quantile a request carries,
        or None to draw its service time from this target's own stream; without it, the work
        offered *is* the quantile (the simulator's)."""
        self.spec = spec
        self.faults = FaultState()
        self._quantile = spec.latency.quantile()
        self._draw = spec.latency.sampler(random.Random(streams.target_service(seed, spec.id)))
        self._work_of = work_of
        self.error_draw = random.Random(streams.target_errors(seed, spec.id)).random
        self.queue = ServiceQueue(spec.capacity, self.faults, self._service_time, start)

    def _service_time(self, work: Any) -> float:
        work_of = self._work_of
        if work_of is None:
            return self._quantile(work)
        quantile = work_of(work)
        return self._draw() if quantile is None else self._quantile(quantile)

    # ------------------------------------------------------------ requests

    def offer(self, key: Hashable, work: Any, now: float) -> bool:
        """A request arrives; False when it will never be answered (dropped or hung)."""
        return self.queue.offer(key, work, now)

    def cancel(self, key: Hashable) -> None:
        self.queue.cancel(key)

    def finish(self, job: Job, now: float) -> bool | None:
        """A job's service time is up: True (answered ok), False (answered with an error), or
        None (not answered: the target went silent meanwhile)."""
        if not self.queue.finish(job, now):
            return None
        faults = self.faults
        return faults.healthy or not faults.fails(self.error_draw)

    def probe(self, now: float) -> tuple[int, float] | None:
        """The answer to a probe (requests in flight, latency estimate, seconds), or None while
        partitioned."""
        if self.faults.dropping(now):
            return None
        queue = self.queue
        return queue.in_flight, queue.latency_estimate()

    def heartbeats(self, now: float) -> bool:
        """Whether a heartbeat gets through now (not while partitioned)."""
        return not self.faults.dropping(now)

    @property
    def silent(self) -> bool:
        """Whether it takes requests and answers none (hang, stall, drop, flap): what a health
        check reports as not serving."""
        faults = self.faults
        return faults.hanging or faults.stalled or faults.dropped or faults.flap_period > 0.0

    # ------------------------------------------------------------ faults

    def apply(self, command: Mapping[str, Any], now: float) -> None:
        """Start a fault (a checked command, ``faults.parse_command``; not a crash)."""
        self.faults.apply(command, now)
        self.queue.pump(now)  # a stall may have ended

    def end_timed(self, now: float) -> None:
        """A fault's time is up: the faults end, an antagonist stays."""
        self.faults.end_timed()
        self.queue.pump(now)

    def recover(self, now: float) -> None:
        """Everything cleared, an antagonist too."""
        self.faults.recover()
        self.queue.pump(now)

    def describe(self) -> str:
        return self.faults.describe()
