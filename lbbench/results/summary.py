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
    table.add_column("valid", justify="left")
    for scenario in result["scenarios"]:
        summary = scenario["summary"]
        table.add_row(
            scenario["name"],
            *(metric.show(summary) for metric in shown if metric.show),
            "yes" if scenario["valid"] else "[bold red]NO[/]",
        )
    return table


def problems(result: dict[str, Any]) -> list[str]:
    return [f"{s['name']}: {p}" for s in result["scenarios"] for p in s["problems"]]
