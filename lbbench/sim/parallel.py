"""Simulated scenarios on several processes at once (local, or a Dask cluster's), with the
same results as on one.

Each scenario is a pure function of itself (its seed, its fleet, its load)
and the simulator's options: nothing is shared between scenarios, so they
can run in any order on any number of processes and give the same result
sets (only the wall-clock fields differ). The processes are forked from
this one, so they also share its hash seed and imports.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from lbbench.errors import ConfigError
from lbbench.rigs.base import Rig, run_scenario
from lbbench.scenario.scenario import Scenario


def run_in_processes(
    scenarios: Sequence[Scenario],
    rig: Rig,
    workers: int,
    done: Callable[[int, Scenario], None] = lambda index, scenario: None,
    lean: bool = False,
) -> list[dict[str, Any]]:
    """Every scenario's entry, in the order given; ``done(index, scenario)`` as each finishes
    (``lean``: as ``run_scenario``'s)."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(run_scenario, s, rig, None, lean): i for i, s in enumerate(scenarios)
        }
        return _in_order(futures, as_completed(futures), scenarios, done)


def _in_order(
    futures: Mapping[Any, int],
    completed: Iterable[Any],
    scenarios: Sequence[Scenario],
    done: Callable[[int, Scenario], None],
) -> list[dict[str, Any]]:
    """The results of ``futures`` (future -> scenario index) in the scenarios' order, taken
    as ``completed`` yields them (``done`` told of each); any future's error is raised."""
    results: list[dict[str, Any] | None] = [None] * len(scenarios)
    for future in completed:
        index = futures[future]
        results[index] = future.result()
        done(index, scenarios[index])
    return [r for r in results if r is not None]  # all of them: each future ran or raised


def run_on_dask(
    scenarios: Sequence[Scenario],
    rig: Rig,
    address: str,
    done: Callable[[int, Scenario], None] = lambda index, scenario: None,
    lean: bool = False,
) -> list[dict[str, Any]]:
    """Every scenario's entry, computed by the workers of the Dask cluster at ``address``.

    Dask rather than Ray: the cells are independent Python calls, which is
    exactly what ``distributed`` does with a pip install and a scheduler
    address; Ray would bring its own object store and raylets for nothing.
    The workers need lbbench installed (the same version: results are only
    comparable from the same code).
    """
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError:
        raise ConfigError(
            "--dask", "needs Dask's distributed package: pip install 'lbbench[cluster]'"
        ) from None
    try:
        client = Client(address, timeout=10)
    except (OSError, ValueError) as error:  # unreachable, or not an address
        message = f"cannot reach the Dask scheduler at {address}: {error}"
        raise ConfigError("--dask", message) from None
    with client:
        futures = {
            client.submit(run_scenario, scenario, rig, None, lean, pure=False): index
            for index, scenario in enumerate(scenarios)
        }
        return _in_order(futures, dask_as_completed(futures), scenarios, done)
