"""A simulated target: the live target's service queue and faults, plus being alive or not."""

from __future__ import annotations

import heapq
import itertools
import random

from lbbench.core.fault_state import FaultState
from lbbench.core.service import Job, ServiceQueue
from lbbench.scenario.profiles import TargetSpec

DONE = 0  # the simulation's heap event kind of a finished job


class SimTarget:
    """One simulated target: the shared service queue and faults, plus liveness."""

    __slots__ = (
        "alive",
        "epoch",
        "error_draw",
        "faults",
        "heap",
        "queue",
        "quantile",
        "seq",
        "spec",
    )

    def __init__(self, spec: TargetSpec, seed: int, heap: list, seq: itertools.count) -> None:
        self.spec = spec
        self.faults = FaultState()
        self.quantile = spec.latency.quantile()
        self.error_draw = random.Random(f"{seed}:{spec.id}:errors").random
        self.heap = heap
        self.seq = seq
        self.alive = True
        self.epoch = 0
        self.queue = self._new_queue()

    def _new_queue(self) -> ServiceQueue:
        quantile = self.quantile
        return ServiceQueue(
            self.spec.capacity, self.faults, lambda work: quantile(work), self._started
        )

    def _started(self, done_at: float, job: Job) -> None:
        heapq.heappush(self.heap, (done_at, next(self.seq), DONE, self, (self.epoch, job)))

    def crash(self) -> None:
        """The process is gone: everything queued is lost, nothing more is answered."""
        self.alive = False
        self.epoch += 1

    def restart(self) -> None:
        self.alive = True
        self.faults.recover()
        self.queue = self._new_queue()
