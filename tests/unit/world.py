"""Scenarios for the router's tests, run by the simulator, with a trace of what happened.

The targets are the simulator's: the live target's own service queue
(capacity, FIFO, cancellation) and fault state, with the profile's latency
model, so a failover test exercises the same target model as the live rig
and ``lbbench sim``. Messages take no time (hop 0) unless asked. A
``World`` records every send, cancel and reply the router made, with its
simulated time, for the tests' assertions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from lbbench.core.actions import Cancel, Reply, Send
from lbbench.core.faults import FAULT_KINDS, Fault
from lbbench.core.latency import Latency
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec
from lbbench.scenario.scenario import Scenario
from lbbench.sim import SimOptions, Simulation


def exponential(mean_s: float) -> Latency:
    return Latency("exponential", (("mean_ms", mean_s * 1e3),))


def fixed(seconds: float) -> Latency:
    return Latency("fixed", (("ms", seconds * 1e3),))


def fault(target: str, kind: str, at_s: float = 0.0, until_s: float | None = None, **params):
    """A fault on ``target`` from ``at_s`` (until ``until_s``, or the end)."""
    defaults = FAULT_KINDS[kind].defaults()
    defaults.update(params)
    duration = None if until_s is None else until_s - at_s
    return Fault(at_s, target, kind, duration, tuple(defaults.items()))


def fleet(
    latency: Mapping[str, Latency],
    *,
    capacity: int = 8,
    tiers: Mapping[str, int] | None = None,
    faults: Iterable[Fault] = (),
) -> FleetProfile:
    """Targets by id with their latency models (and tiers), and a fault schedule."""
    tiers = tiers or {}
    targets = tuple(
        TargetSpec(i, tier=tiers.get(i, 0), capacity=capacity, latency=model)
        for i, model in latency.items()
    )
    return FleetProfile("test", "a fleet of the tests", targets, tuple(faults))


class World:
    """One simulated trial of a scenario, traced."""

    def __init__(self, scenario: Scenario, seed: int = 1, hop_s: float = 0.0) -> None:
        self.simulation = Simulation(scenario, seed, SimOptions(hop_s=hop_s))
        self.router = self.simulation.router
        self.sends: list[tuple[float, Send]] = []
        self.cancels: list[Cancel] = []
        self.replies: dict[int, list[Reply]] = defaultdict(list)
        self.reply_at: dict[int, float] = {}
        self.sent_at: dict[int, float] = {}
        self.attempts_of: dict[int, list[Send]] = defaultdict(list)
        self.simulation.on_actions = self._record

    def _record(self, at: float, actions: list[Any]) -> None:
        for action in actions:
            kind = type(action)
            if kind is Send:
                self.sent_at.setdefault(action.request, at)
                self.sends.append((at, action))
                self.attempts_of[action.request].append(action)
            elif kind is Reply:
                self.sent_at.setdefault(action.request, at)
                self.replies[action.request].append(action)
                self.reply_at[action.request] = at
            elif kind is Cancel:
                self.cancels.append(action)

    def run(self, until: float | None = None) -> World:
        """Run to ``until`` (default: until the load is over and every request answered)."""
        self.simulation.run(until=until)
        return self

    @property
    def now(self) -> float:
        return self.simulation.now

    def result(self) -> dict[str, Any]:
        return self.simulation.finish()

    # ---------------------------------------------------------------- views

    def status_of(self, rid: int) -> str:
        (reply,) = self.replies[rid]
        return reply.status

    def outcome_counts(self) -> Counter[str]:
        return Counter(r.status for rs in self.replies.values() for r in rs)

    def sends_to(self, backend_id: str, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(1 for t, s in self.sends if s.backend == backend_id and since <= t < until)

    def shares(self, since: float = 0.0, until: float = float("inf")) -> dict[str, float]:
        counts = Counter(s.backend for t, s in self.sends if since <= t < until)
        total = sum(counts.values())
        ids = [spec.id for spec in self.simulation.scenario.profile.targets]
        return {b: counts[b] / total for b in ids} if total else {}


def scenario(
    profile: FleetProfile,
    *,
    modes: tuple[str, ...] = ("fail_fast",),
    strategy: str = "round_robin",
    rate: float = 200.0,
    duration_s: float = 5.0,
    arrival: str = "poisson",
    deadline_s: float = 1.0,
    settings: Mapping[str, Any] | None = None,
) -> Scenario:
    """A scenario on ``profile``; ``settings`` are router settings by dotted path."""
    return Scenario(
        name="test",
        profile=profile,
        strategy=strategy,
        failover=modes,
        load=LoadSpec(rate=rate, duration_s=duration_s, arrival=arrival, drain_s=10.0),
        deadline_s=deadline_s,
        settings=tuple((settings or {}).items()),
    )
