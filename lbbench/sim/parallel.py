"""Simulated scenarios on several local processes at once, with the same results as one.

Each scenario is a pure function of itself (its seed, its fleet, its load)
and the simulator's options: nothing is shared between scenarios, so they
can run in any order on any number of processes and give the same result
sets (only the wall-clock fields differ). The processes are forked from
this one, so they also share its hash seed and imports.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from lbbench.rigs.base import Rig, run_scenario
from lbbench.scenario.scenario import Scenario


def run_in_processes(
    scenarios: Sequence[Scenario],
    rig: Rig,
    workers: int,
    done: Callable[[int, Scenario], None] = lambda index, scenario: None,
) -> list[dict[str, Any]]:
    """Every scenario's entry, in the order given; ``done(index, scenario)`` as each finishes."""
    context = multiprocessing.get_context("fork")
    results: list[dict[str, Any] | None] = [None] * len(scenarios)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running = {pool.submit(run_scenario, s, rig): i for i, s in enumerate(scenarios)}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index = running.pop(future)
                results[index] = future.result()
                done(index, scenarios[index])
    return [r for r in results if r is not None]
