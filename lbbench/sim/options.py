"""What the simulated world is like beyond the fleet profile: hops, restarts, heartbeats."""

from __future__ import annotations

from dataclasses import dataclass

from lbbench.checks import check_number


@dataclass(frozen=True)
class SimOptions:
    """What the simulated world is like beyond the fleet profile.

    ``hop_s`` is the one-way delay of each of the four hops (client to
    balancer, balancer to target, and back). Its default is half of the
    round trip a request with no service time took from a client to one
    live target directly on this project's reference machine (274 us,
    ``tests/bench/test_balancer_throughput.py``), so that the four hops cost
    about what the live rig's balancer path did (576 us). ``restart_s`` is
    how long a crashed target takes to come back after its fault ends (a
    live target is a new Python process). ``max_pending`` None means the
    live balancer's bound, or 4 times the fleet's total capacity when that
    is larger (a balancer for 10 000 backends is not sized for 10).
    """

    hop_s: float = 137e-6
    restart_s: float = 0.5
    heartbeat_s: float = 0.05
    sample_s: float = 0.05
    max_pending: int | None = None
    full_samples_up_to: int = 200  # larger fleets sample only faulted backends

    def __post_init__(self) -> None:
        for flag, value in (("--hop-us", self.hop_s), ("--restart-s", self.restart_s)):
            check_number(flag, value, low=0.0)
        for name in ("heartbeat_s", "sample_s"):
            check_number(name, getattr(self, name), low=0.0, low_open=True)
