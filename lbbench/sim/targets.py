"""A simulated target: the target model (``core.target_model``) plus being alive or not.

The live targets (ZeroMQ, gRPC) are shells around the same model; a
simulated one adds only what a process has and the model does not: it can
crash (everything queued is lost, nothing more is answered) and start
again, as a new model with its streams from their start, as a restarted
process has.
"""

from __future__ import annotations

import heapq
import itertools

from lbbench.core.service import Job
from lbbench.core.target_model import TargetModel
from lbbench.core.target_spec import TargetSpec
from lbbench.sim.events import DONE


class SimTarget:
    """One simulated target: the shared target model, plus liveness."""

    __slots__ = ("alive", "epoch", "heap", "model", "seed", "seq", "spec")

    def __init__(self, spec: TargetSpec, seed: int, heap: list, seq: itertools.count) -> None:
        self.spec = spec
        self.seed = seed
        self.heap = heap
        self.seq = seq
        self.alive = True
        self.epoch = 0
        self.model = TargetModel(spec, seed, self._started)

    def _started(self, done_at: float, job: Job) -> None:
        heapq.heappush(self.heap, (done_at, next(self.seq), DONE, self, (self.epoch, job)))

    def crash(self) -> None:
        """The process is gone: everything queued is lost, nothing more is answered."""
        self.alive = False
        self.epoch += 1

    def restart(self) -> None:
        self.alive = True
        self.model = TargetModel(self.spec, self.seed, self._started)
