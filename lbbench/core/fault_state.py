"""The faults in force on one target: what its service queue consults on every job.

Its own module so that it is compiled with the service queue (setup.py):
the queue reads ``healthy`` on every job it takes and ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from lbbench.errors import ConfigError


class FaultState:
    """The faults in force on one target right now.

    ``apply`` takes a command (kind plus parameters); ``end`` (a fault's
    time is up) clears the faults but not an antagonist; ``recover`` clears
    everything. ``dropping(now)`` covers both drop and flap (which drops for
    the first half of every period). ``factor_at(now)`` is what service
    times are multiplied by: the slow factor times the antagonist's.

    An antagonist is another tenant of the machine taking a share of its
    CPU that changes every ``dwell_s`` (the first change at a point of the
    period drawn from the seed, so that machines do not change in step):
    each period's share is drawn uniformly from [0, share_max] by a
    generator seeded with the seed and the period's number, so the same
    seed gives the same load over time on the live target and in the
    simulator, whatever is routed to it. With share s the server runs at
    1 - s of its speed (service times / (1 - s)).
    """

    def __init__(self) -> None:
        self.recover()

    def recover(self) -> None:
        """Clear everything, an antagonist too."""
        self.antagonist_max = 0.0
        self.antagonist_dwell = 0.0
        self.antagonist_seed = 0
        self.antagonist_origin = 0.0  # where period 0 begins
        self._period = -1  # the period whose factor is cached
        self._antagonist_factor = 1.0
        self.end_timed()

    def end_timed(self) -> None:
        """A fault with a duration is over: clear the faults, but not an antagonist, which is
        the machine's condition, not a fault that ends (a ``recover`` command clears it)."""
        # no fault in force lets the hot paths skip every check; an antagonist is one
        self.healthy = self.antagonist_dwell == 0.0
        self.error_p = 0.0
        self.error_signal = "grpc-status"  # how a gRPC target signals them (faults.SIGNALS)
        self.slow_factor = 1.0
        self.hanging = False
        self.stalled = False
        self.dropped = False
        self.flap_period = 0.0
        self.flap_start = 0.0

    def apply(self, command: Mapping[str, Any], now: float) -> None:
        kind = command["kind"]
        self.healthy = kind == "recover"
        if kind == "recover":
            self.recover()
        elif kind == "end":
            self.end_timed()
        elif kind == "error_rate":
            self.error_p = float(command["p"])
            self.error_signal = str(command.get("signal", "grpc-status"))
        elif kind == "slow":
            self.slow_factor = float(command["factor"])
        elif kind == "hang":
            self.hanging = True
        elif kind == "stall":
            self.stalled = True
        elif kind == "drop":
            self.dropped = True
        elif kind == "flap":
            self.flap_period = float(command["period_s"])
            self.flap_start = now
        elif kind == "antagonist":
            self.antagonist_max = float(command["share_max"])
            self.antagonist_dwell = dwell = float(command["dwell_s"])
            self.antagonist_seed = seed = int(command["seed"])
            self.antagonist_origin = now - random.Random(seed).random() * dwell
            self._period = -1
        else:  # crash ends the process: whoever runs the target handles it
            raise ConfigError("fault.kind", f"{kind!r} is not a fault a running target applies")

    def factor_at(self, now: float) -> float:
        """Service times are multiplied by this now (1.0 without slow or antagonist)."""
        if self.antagonist_dwell == 0.0:
            return self.slow_factor
        period = int((now - self.antagonist_origin) // self.antagonist_dwell)
        if period != self._period:
            self._period = period
            draw = random.Random(self.antagonist_seed * 1_000_003 + period).random()
            self._antagonist_factor = 1.0 / (1.0 - draw * self.antagonist_max)
        return self.slow_factor * self._antagonist_factor

    def fails(self, draw: Callable[[], float]) -> bool:
        """Whether an answer is an error, under the error rate in force."""
        return self.error_p > 0.0 and draw() < self.error_p

    def dropping(self, now: float) -> bool:
        if self.dropped:
            return True
        if self.flap_period > 0.0:
            phase = ((now - self.flap_start) % self.flap_period) / self.flap_period
            return phase < 0.5
        return False

    def describe(self) -> str:
        parts = []
        if self.error_p:
            signal = "" if self.error_signal == "grpc-status" else f" as {self.error_signal}"
            parts.append(f"error_rate p={self.error_p:g}{signal}")
        if self.slow_factor != 1.0:
            parts.append(f"slow x{self.slow_factor:g}")
        if self.hanging:
            parts.append("hang")
        if self.stalled:
            parts.append("stall")
        if self.dropped:
            parts.append("drop")
        if self.flap_period:
            parts.append(f"flap {self.flap_period:g}s")
        if self.antagonist_dwell:
            parts.append(
                f"antagonist up to {self.antagonist_max:g} every {self.antagonist_dwell:g}s"
            )
        return ", ".join(parts) or "healthy"
