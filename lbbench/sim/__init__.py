"""The discrete-event simulator: the live router, strategies and faults in simulated time."""

from lbbench.sim.engine import SimOptions, Simulation, simulate_trial

__all__ = ["SimOptions", "Simulation", "simulate_trial"]
