"""The random streams that keep a live run and its simulation in step: one table of names.

A seeded run draws from several independent streams; the live processes
(generator, targets) and the simulator must draw the same values from the
same stream, or a live run and its simulation stop being the same
experiment (common random numbers). Each stream's seed is made here and
nowhere else.
"""

from __future__ import annotations


def arrivals(seed: int, process: int = 0) -> int:
    """Inter-arrival gaps and routing keys of the generator's process ``process``; the
    simulator's are process 0's (one process, the same schedule)."""
    return seed * 1000 + process


def work(seed: int, process: int = 0) -> str:
    """Each request's work quantile (its service time's place in the target's distribution),
    drawn by the generator's process ``process``; the simulator's are process 0's."""
    return f"{seed}:service" if process == 0 else f"{seed}:service:{process}"


def target_service(seed: int, target_id: str) -> str:
    """A target's own service-time draws, for requests that carry no work quantile."""
    return f"{seed}:{target_id}"


def target_errors(seed: int, target_id: str) -> str:
    """Whether each answer of a target under an error rate is an error."""
    return f"{seed}:{target_id}:errors"


def balancer_router(seed: int, index: int = 0) -> int | str:
    """The router's own choices (random picks, jitter): of router ``index`` of several
    sharing a fleet (``balancers = N``); the first one's are the one router's, so one
    balancer is the run it always was."""
    return seed if index == 0 else f"{seed}:router:{index}"


def balancer_split(seed: int, process: int = 0) -> str:
    """Which of several balancers each request of the generator's process ``process`` goes
    to (``balancers_split``); the simulator's are process 0's."""
    return f"{seed}:split" if process == 0 else f"{seed}:split:{process}"


def balancer_order(seed: int, index: int) -> str:
    """The order in which balancer ``index`` (> 0) of several lists the backends."""
    return f"{seed}:order:{index}"
