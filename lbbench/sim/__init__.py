"""The discrete-event simulator: the live router, strategies and faults in simulated time."""

from lbbench.sim.engine import Simulation
from lbbench.sim.options import SimOptions
from lbbench.sim.rig import SimRig, simulate_trial

__all__ = ["SimOptions", "SimRig", "Simulation", "simulate_trial"]
