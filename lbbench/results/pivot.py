"""A table of one metric with one matrix key down and another across (a suite's ``[pivot]``)."""

from __future__ import annotations

from typing import Any

from lbbench.results.metrics import metric


def pivot_cells(
    result: dict[str, Any], rows: str, columns: str, name: str
) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """Row labels, column labels (in the order met) and the metric's value per cell."""
    chosen = metric(name)
    cells: dict[tuple[str, str], float] = {}
    row_labels: list[str] = []
    column_labels: list[str] = []
    for scenario in result["scenarios"]:
        cell = scenario.get("cell", {})
        if rows not in cell or columns not in cell:
            continue
        row, column = cell[rows], cell[columns]
        if row not in row_labels:
            row_labels.append(row)
        if column not in column_labels:
            column_labels.append(column)
        value = chosen.summary_value(scenario["summary"])
        if value is not None:
            cells[(row, column)] = value
    return row_labels, column_labels, cells


def pivot_table(result: dict[str, Any], rows: str, columns: str, name: str = "p99"):
    """The rich table of ``pivot_cells``."""
    from rich.table import Table

    row_labels, column_labels, cells = pivot_cells(result, rows, columns, name)
    unit = metric(name).unit
    title = f"{name}{f' ({unit})' if unit else ''}: {rows} by {columns}"
    table = Table(title=title, title_justify="left")
    table.add_column(rows)
    for label in column_labels:
        table.add_column(f"{columns} {label}", justify="right")
    for row in row_labels:
        table.add_row(
            row,
            *(f"{cells[(row, c)]:.2f}" if (row, c) in cells else "-" for c in column_labels),
        )
    return table
