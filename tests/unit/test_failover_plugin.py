"""A failover mode is a plug-in: one defined here, in the test file alone, runs in the
router and the simulator with no change to either."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

import pytest

from lbbench.checks import check_number
from lbbench.core.backends import Backend
from lbbench.core.config import FailoverConfig, RouterConfig
from lbbench.core.failover import FAILOVER, FailoverPolicy, register, unregister
from lbbench.core.faults import Fault
from lbbench.core.latency import Latency
from lbbench.core.router import Router
from lbbench.errors import ConfigError
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec
from lbbench.scenario.scenario import Scenario
from lbbench.sim import Simulation
from lbbench.vocabulary import OK


@dataclass(frozen=True)
class QuarantineConfig:
    PATH: ClassVar[str] = "failover.quarantine"
    quarantine_s: float = 0.5

    def __post_init__(self) -> None:
        check_number(f"{self.PATH}.quarantine_s", self.quarantine_s, low=0.0, low_open=True)


class Quarantine(FailoverPolicy):
    """A toy mode: a backend whose attempt failed gets nothing for ``quarantine_s``."""

    name = "quarantine"
    summary = "no requests for a while to a backend that just failed"
    Settings = QuarantineConfig

    def __init__(self, settings, router) -> None:
        super().__init__(settings, router)
        self.until: dict[object, float] = {}

    def on_attempt_done(self, attempt, outcome, latency, now) -> None:
        backend = attempt.backend
        if outcome != OK and backend not in self.until:
            self.until[backend] = now + self.settings.quarantine_s
            self.router.pools_changed()
            self.router.note(now, backend, "quarantined", "")
            self.router.arm(self.until[backend], self, "release", backend)

    def on_timer(self, timer, now) -> None:
        del self.until[timer.ref]
        self.router.pools_changed()
        self.router.note(now, timer.ref, "released", "")

    def admits(self, backend) -> bool:
        return backend not in self.until

    def health(self, backend) -> str | None:
        return "quarantined" if backend in self.until else None


@pytest.fixture
def quarantine():
    register(Quarantine)
    yield Quarantine
    unregister(Quarantine.name)


FLEET = FleetProfile(
    "three",
    "three alike targets, t1 failing from 1 s for 2 s",
    tuple(TargetSpec(f"t{i}", latency=Latency("fixed", (("ms", 2.0),))) for i in range(3)),
    (Fault(1.0, "t1", "error_rate", 2.0, (("p", 1.0),)),),
)


def test_a_mode_defined_in_a_test_runs_in_the_simulator_unchanged(quarantine):
    scenario = Scenario(
        name="toy",
        profile=FLEET,
        strategy="round_robin",
        failover=("quarantine",),
        load=LoadSpec(rate=300, duration_s=4.0),
    )
    simulation = Simulation(scenario, 1)
    simulation.run()
    result = simulation.finish()
    events = [(e.kind, e.at) for e in simulation.router.events if e.backend == "t1"]
    kinds = [kind for kind, _ in events if kind in ("quarantined", "released")]
    # while t1 fails (1 s to 3 s) it fails once per quarantine, then sits out 0.5 s
    assert kinds[:6] == ["quarantined", "released"] * 3
    first = next(at for kind, at in events if kind == "quarantined")
    assert 1.0 <= first < 1.02
    assert result["requests"]["error"] <= 5  # one failed request per 0.5 s of trouble
    assert result["requests"]["lost"] == 0


def test_its_settings_are_checked_and_defaulted_like_a_built_in_modes(quarantine):
    config = FailoverConfig(modes=("quarantine", "retry"))
    assert config.of("quarantine") == QuarantineConfig()
    given = FailoverConfig(modes=("quarantine",), settings={"quarantine": QuarantineConfig(2.0)})
    assert given.of("quarantine").quarantine_s == 2.0
    with pytest.raises(ConfigError, match=r"failover\.quarantine\.quarantine_s"):
        QuarantineConfig(quarantine_s=-1)
    with pytest.raises(ConfigError, match="expected QuarantineConfig"):
        FailoverConfig(modes=("quarantine",), settings={"quarantine": 2.0})


def test_the_router_reports_its_health_word_and_never_sends_there(quarantine):
    router = Router(
        RouterConfig(failover=FailoverConfig(modes=("quarantine",))),
        [Backend("a"), Backend("b")],
        rng=random.Random(1),
    )
    first = router.on_request(0.0, 1)[0]
    router.on_reply(0.001, first.attempt, ok=False)
    failed = router.backends[first.backend]
    assert router.health_of(failed) == "quarantined"
    sends = [a for rid in range(2, 12) for a in router.on_request(0.01, rid) if hasattr(a, "extra")]
    assert {s.backend for s in sends} == {"a", "b"} - {failed.id}


def test_unregistered_it_is_unknown_again():
    assert "quarantine" not in FAILOVER
    with pytest.raises(ConfigError, match="unknown failover mode 'quarantine'"):
        FailoverConfig(modes=("quarantine",))
