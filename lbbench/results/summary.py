"""The summary table `lbbench run` and `lbbench sim` print: one row per scenario.

Its columns are the metrics registry's (``lbbench.results.metrics``).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from lbbench.results.metrics import columns


def scenario_rows(result: dict[str, Any]) -> Table:
    simulated = any(s.get("simulated") for s in result["scenarios"])
    title = f"lbbench {'sim' if simulated else 'run'} {result['run_id']}"
    if simulated:
        title += " (simulated: the router and strategies in simulated time, no live rig)"
    table = Table(title=title, title_justify="left")
    shown = columns()
    table.add_column("scenario", justify="left")
    for metric in shown:
        table.add_column(metric.column, justify="right")
    # The live rig's own latency under each scenario's load (its calibration):
    # the part of a p50 or p99 that is the harness, not the strategy.
    calibrated = any((s.get("rig_latency") or {}).get("latency_ms") for s in result["scenarios"])
    if calibrated:
        table.add_column("rig p50/p99 ms", justify="right")
    table.add_column("valid", justify="left")
    for scenario in result["scenarios"]:
        summary = scenario["summary"]
        rig = [_rig_cell(scenario.get("rig_latency"))] if calibrated else []
        table.add_row(
            scenario["name"],
            *(metric.show(summary) for metric in shown if metric.show),
            *rig,
            "yes" if scenario["valid"] else "[bold red]NO[/]",
        )
    return table


def _rig_cell(rig: dict[str, Any] | None) -> str:
    if not rig or not rig.get("latency_ms"):
        return "-"
    latency = rig["latency_ms"]
    cell = f"{latency['p50']:.2f}/{latency['p99']:.2f}"
    return cell if rig.get("valid") else f"{cell} (invalid)"


def problems(result: dict[str, Any]) -> list[str]:
    return [f"{s['name']}: {p}" for s in result["scenarios"] for p in s["problems"]]
