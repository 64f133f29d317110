"""A trial whose rig breaks is lost on its own: the scenario's other trials still run."""

from __future__ import annotations

import dataclasses

from lbbench.rigs.base import run_scenario
from lbbench.rigs.process import RigError
from lbbench.sim.rig import SimRig
from tests.unit.world import exponential, fleet, scenario


@dataclasses.dataclass(frozen=True)
class BreaksOnce(SimRig):
    """The simulator, but trial ``broken`` cannot bring its rig up."""

    broken: int = 0

    def run_trial(self, scenario, index, progress=None):
        if index == self.broken:
            raise RigError("balancer", "exited while starting: address in use")
        return super().run_trial(scenario, index, progress)


def test_a_rig_that_cannot_start_loses_one_trial_and_the_scenario_goes_on():
    three = fleet({target: exponential(0.002) for target in "abc"})
    case = dataclasses.replace(scenario(three, duration_s=1.0), trials=3)
    entry = run_scenario(case, BreaksOnce(broken=1))
    first, broken, third = entry["trials"]
    assert broken["valid"] is False
    assert broken["rig_failure"]["reason"] == "balancer: exited while starting: address in use"
    assert broken["requests"]["sent"] == 0 and broken["rig_failure"]["unanswered"] == 0
    assert first["rig_failure"] is None and third["rig_failure"] is None
    assert first["requests"]["sent"] > 100 and third["requests"]["sent"] > 100
    assert entry["valid"] is False
    assert entry["problems"][0].startswith("trial 2: rig failure: balancer: exited")
    sent = entry["summary"]["requests"]["sent"]
    assert sent == first["requests"]["sent"] + third["requests"]["sent"]
