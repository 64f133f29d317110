"""The simulator as a rig: trials of any scenario in simulated time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lbbench.rigs.base import Progress
from lbbench.scenario.scenario import Scenario
from lbbench.sim.engine import Simulation
from lbbench.sim.options import SimOptions

SIMULATED_AS = (
    "lbbench's equivalent of the {proxy} configuration (the same strategy, failover modes and "
    "settings, run by lbbench's router: docs/proxies.md lists where {proxy} differs)"
)


@dataclass(frozen=True)
class SimRig:
    """Runs each trial as a ``Simulation`` with these options."""

    options: SimOptions = field(default_factory=SimOptions)
    simulated = True

    def check(self, scenario: Scenario) -> None:
        Simulation.check(scenario)

    def calibrate(self, scenario: Scenario) -> None:
        """Simulated time has no rig of its own to measure."""
        return None

    def run_trial(
        self, scenario: Scenario, index: int, progress: Progress | None = None
    ) -> dict[str, Any]:
        """One simulated trial (seed ``scenario.seed + index``, as live trials)."""
        simulation = Simulation(scenario, scenario.seed + index, self.options)
        simulation.run(progress=progress)
        trial = simulation.finish()
        if scenario.proxy:  # the simulator runs lbbench's code, never the proxy's: say so
            trial["strategy_status"] = {
                **(trial.get("strategy_status") or {}),
                "simulated_as": SIMULATED_AS.format(proxy=scenario.proxy),
            }
        return trial


def simulate_trial(
    scenario: Scenario,
    index: int,
    progress: Progress | None = None,
    options: SimOptions | None = None,
) -> dict[str, Any]:
    """One simulated trial with ``options`` (the defaults if None)."""
    return SimRig(options or SimOptions()).run_trial(scenario, index, progress)
