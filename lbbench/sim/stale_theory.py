"""Mitzenmacher's periodic update model, solved numerically: how useful is old information?

n servers (exponential service, rate 1), Poisson arrivals at ``load`` per
server; a bulletin board shows every server's queue length as it was at
the last update, and updates come every ``period`` service times. Each
arrival looks at ``choices`` servers drawn at random and joins the one with
the shortest *posted* queue (``choices = None``: least loaded, the shortest
posted queue of all, ties at random). M. Mitzenmacher, "How useful is old
information?", IEEE TPDS 11(1), 2000, derives the limit as n grows: the
fraction of servers with posted load i and true load j follows, within a
phase, a system of differential equations in which every server of posted
load i receives arrivals at rate ``load * q_i / b_i`` (b_i: the fraction of
servers posted at i; q_i: the chance that the best of the choices is
posted at i, ``s_i^d - s_(i+1)^d`` with s_i the fraction posted at i or
more) and serves at rate 1; at the end of a phase the board shows the true
loads again.

Its figures cannot be read off precisely, so this module solves those
equations itself. At a phase's start every server's posted load is its
true load, so the state is one distribution over queue lengths; within the
phase each posted group is a birth-death chain of its own (fixed arrival
rate), integrated with fourth-order Runge-Kutta (the groups fed fast, least
loaded's herd, with steps short against their rate); phases repeat until the
distribution at a phase's start stops changing (the periodic steady
state). The mean time in system is the number in system averaged over a
phase, over ``load`` (Little's law), in service times.
"""

from __future__ import annotations

import functools

import numpy as np


def _arrival_rates(start: np.ndarray, load: float, choices: int | None) -> np.ndarray:
    """Per server, the arrival rate of each posted group (by posted load), for one phase."""
    posted = start  # at a phase's start, posted loads are the true ones
    rates = np.zeros_like(posted)
    present = posted > 1e-15
    if choices is None:  # least loaded: the emptiest posted group takes everything
        lowest = int(np.argmax(present))
        rates[lowest] = load / posted[lowest]
        return rates
    at_least = np.cumsum(posted[::-1])[::-1]  # s_i: posted at i or more
    beyond = np.append(at_least[1:], 0.0)
    best_here = at_least**choices - beyond**choices  # q_i
    rates[present] = load * best_here[present] / posted[present]
    return rates


def _evolve(
    rows: np.ndarray, rates: np.ndarray, period: float, step: float
) -> tuple[np.ndarray, float]:
    """Birth-death chains (one per row: arrivals at ``rates[row]``, service at rate 1 when
    busy) run for ``period``: (the rows at its end, the integral of their mean number in
    system over it), by fourth-order Runge-Kutta with steps short against the fastest."""
    size = rows.shape[1]
    fastest = float(rates.max(initial=0.0)) + 1.0
    steps = max(1, int(np.ceil(period / min(step, 0.2 / fastest))))
    dt = period / steps
    lengths = np.arange(size)
    serving = (lengths >= 1).astype(float)
    arriving = np.ones(size)
    arriving[-1] = 0.0  # the truncation: nothing beyond the longest queue kept
    leaving = rates[:, None] * arriving[None, :] + serving[None, :]

    def derivative(p: np.ndarray) -> np.ndarray:
        flow = -p * leaving
        flow[:, 1:] += rates[:, None] * p[:, :-1]  # arrivals from j - 1
        flow[:, :-1] += p[:, 1:]  # departures from j + 1
        return flow

    area = 0.0  # the integral of the mean number in system, trapezoid by step
    number = float(rows.sum(axis=0) @ lengths)
    for _ in range(steps):
        k1 = derivative(rows)
        k2 = derivative(rows + 0.5 * dt * k1)
        k3 = derivative(rows + 0.5 * dt * k2)
        k4 = derivative(rows + dt * k3)
        rows = rows + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        following = float(rows.sum(axis=0) @ lengths)
        area += 0.5 * (number + following) * dt
        number = following
    return rows, area


def _phase(
    start: np.ndarray, load: float, period: float, choices: int | None, step: float
) -> tuple[np.ndarray, float]:
    """One phase from the distribution ``start``: (the distribution at its end, the mean
    number in system averaged over the phase)."""
    rates = _arrival_rates(start, load, choices)
    groups = np.flatnonzero(start > 1e-15)
    # Rows fed much faster than they serve (least loaded's herd) need short steps; the
    # rest need not pay for them.
    fast = groups[rates[groups] > 4.0]
    slow = groups[rates[groups] <= 4.0]
    end = np.zeros_like(start)
    area = 0.0
    for chosen in (fast, slow):
        if len(chosen) == 0:
            continue
        rows = np.zeros((len(chosen), len(start)))
        rows[np.arange(len(chosen)), chosen] = start[chosen]
        rows, part = _evolve(rows, rates[chosen], period, step)
        end += rows.sum(axis=0)
        area += part
    return end, area / period


@functools.lru_cache(maxsize=64)  # the same figures serve several checks
def stale_time(
    load: float,
    period: float,
    choices: int | None,
    *,
    longest: int = 200,
    step: float = 0.01,
    tolerance: float = 1e-9,
    max_phases: int = 100_000,
) -> float:
    """The mean time in system (service times) in the periodic steady state.

    ``choices``: d random choices, or None for least loaded. ``longest``:
    the longest queue kept (the truncation; raise it if the answer moves).
    """
    if not 0.0 < load < 1.0:
        raise ValueError(f"load must be in (0, 1), got {load}")
    state = np.zeros(longest + 1)
    state[0] = 1.0
    previous = None
    for _ in range(max_phases):
        state, mean_number = _phase(state, load, period, choices, step)
        state = np.clip(state, 0.0, None)
        state /= state.sum()
        if previous is not None and abs(mean_number - previous) < tolerance * max(1.0, mean_number):
            if state[-1] > 1e-9:
                raise ValueError(f"queues reach the truncation at {longest}: raise longest")
            return mean_number / load
        previous = mean_number
    raise ValueError(f"no periodic steady state after {max_phases} phases")
