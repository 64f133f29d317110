"""A suite's published figures beside this run's (``[published]``): how close it came."""

from __future__ import annotations

from typing import Any

from lbbench.results.metrics import metric
from lbbench.scenario.suite_file import Published


def published_rows(result: dict[str, Any], published: Published) -> list[dict[str, Any]]:
    """One row per published figure: the figure, ours (None: that scenario did not run), and
    how they differ (a ratio for times, rates and ratios, a difference of points for an index).

    A figure ``versus`` another scenario is a ratio of the two scenarios' values (kind
    "ratio"), ours computed the same way."""
    summaries = {s["name"]: s["summary"] for s in result["scenarios"]}
    rows = []
    for figure in published.figures:
        measure = metric(figure.metric)
        kind = "ratio" if figure.versus else measure.kind
        ours = _ours(summaries, figure.scenario, measure)
        if figure.versus:
            base = _ours(summaries, figure.versus, measure)
            ours = None if ours is None or not base else ours / base
        if ours is None:
            difference = None
        elif kind == "index":
            difference = ours - figure.value
        else:
            difference = ours / figure.value if figure.value else None
        rows.append(
            {
                "scenario": figure.scenario,
                "versus": figure.versus,
                "metric": figure.metric,
                "kind": kind,
                "unit": measure.unit,
                "published": figure.value,
                "ours": ours,
                "difference": difference,
                "note": figure.note,
            }
        )
    return rows


def _ours(summaries: dict[str, Any], scenario: str, measure: Any) -> float | None:
    summary = summaries.get(scenario)
    return None if summary is None else measure.summary_value(summary)


def _value(value: float | None, kind: str, unit: str) -> str:
    if value is None:
        return "-"
    if kind == "index":
        return f"{100 * value:.2f}%"
    if kind == "ratio":
        return f"{value:.3g}x"
    return f"{value:.2f}{f' {unit}' if unit else ''}"


def published_table(result: dict[str, Any], published: Published):
    """The rich table of ``published_rows``."""
    from rich.table import Table

    title = f"published: {published.source}" + (f" ({published.url})" if published.url else "")
    table = Table(title=title, title_justify="left")
    for column in ("scenario", "metric", "published", "ours", "ours against published", "note"):
        table.add_column(column, justify="right" if column in ("published", "ours") else "left")
    for row in published_rows(result, published):
        difference = row["difference"]
        if difference is None:
            against = "-"
        elif row["kind"] == "index":
            against = f"{100 * difference:+.2f} points"
        else:
            against = f"{difference:.2f}x"
        versus = row.get("versus")
        table.add_row(
            row["scenario"],
            f"{row['metric']} / {versus}'s" if versus else row["metric"],
            _value(row["published"], row["kind"], row["unit"]),
            _value(row["ours"], row["kind"], row["unit"]),
            against,
            row["note"],
        )
    return table
