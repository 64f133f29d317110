"""Studies only the simulator can run: ``lbbench sim --suite scale``.

scale: p99 of round_robin, p2c, peak_ewma, probing and adaptive as the
fleet grows from 10 to 10 000 backends, 5 % of them 10x slower (at least
one), offered 70 % of the fleet's capacity. Each point runs at least
``MIN_REQUESTS`` requests and at least ``MIN_SECONDS`` of simulated time
(the latency-aware strategies learn over time, not over requests).
Because the big fleets get a quarter of a second, adaptive checks the
fleet every 50 ms instead of its default 500 ms, or it could never switch
within the run; its thresholds are its defaults.
"""

from __future__ import annotations

from typing import Any

from lbbench.scenario.fleets import rate_for_utilization, synthetic_fleet
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.scenario import Scenario

SIZES = (10, 100, 1_000, 10_000)
STRATEGIES = ("round_robin", "p2c", "peak_ewma", "probing", "adaptive")
SLOW_FRACTION = 0.05
SLOW_FACTOR = 10.0
UTILIZATION = 0.7
MIN_REQUESTS = 200_000
MIN_SECONDS = 0.25
OPTIONS: dict[str, tuple[tuple[str, Any], ...]] = {"adaptive": (("interval_s", 0.05),)}


def scale_suite(seed: int = 1, trials: int = 1, sizes: tuple[int, ...] = SIZES) -> list[Scenario]:
    scenarios = []
    for size in sizes:
        fleet = synthetic_fleet(size, slow_fraction=SLOW_FRACTION, slow_factor=SLOW_FACTOR)
        rate = rate_for_utilization(fleet, UTILIZATION)
        load = LoadSpec(rate=rate, duration_s=max(MIN_SECONDS, MIN_REQUESTS / rate))
        for strategy in STRATEGIES:
            scenarios.append(
                Scenario(
                    name=f"{strategy} on {size} backends",
                    profile=fleet,
                    strategy=strategy,
                    load=load,
                    strategy_options=OPTIONS.get(strategy, ()),
                    seed=seed,
                    trials=trials,
                )
            )
    return scenarios


SIM_SUITES = {"scale": scale_suite}


def pivot(result: dict[str, Any], metric: str = "p99"):
    """A table of ``metric`` (corrected, ms) by strategy and fleet size."""
    from rich.table import Table

    cells: dict[tuple[str, int], float] = {}
    for scenario in result["scenarios"]:
        size = len(scenario["summary"]["backends"])
        cells[(scenario["strategy"], size)] = scenario["summary"]["latency_ms"]["corrected"][metric]
    sizes = sorted({size for _, size in cells})
    strategies = [s for s in STRATEGIES if any((s, n) in cells for n in sizes)]
    table = Table(title=f"{metric} latency (ms) by fleet size", title_justify="left")
    table.add_column("strategy")
    for size in sizes:
        table.add_column(f"{size} backends", justify="right")
    for strategy in strategies:
        table.add_row(
            strategy,
            *(f"{cells[(strategy, n)]:.2f}" if (strategy, n) in cells else "-" for n in sizes),
        )
    return table
