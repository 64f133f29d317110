"""The winner map (a suite's ``[map]``): which contender wins each cell of a sweep, by how much.

A sweep's matrix axes split in two: the contenders (``strategy``,
``failover``: what a user chooses) and the conditions (load, fleet,
faults: what a user lives with). Each combination of conditions is a
cell; within it the contenders are ordered by the map's metric (the
median of their per-trial values, better first), those whose error rate
is more than ``max_extra_errors`` above the cell's lowest after all the
others (failing requests fast is not being fast). The winner's margin is
the runner-up's value over the winner's (a difference of points for an
index such as the error rate), and a two-sided Mann-Whitney U test of the
two's per-trial values says whether the trials can tell them apart
(``clear``: p below alpha). All contenders of a cell ran with the same
seeds (common random numbers), so a difference is the contenders', not
the draws'.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbbench.errors import LbbenchError
from lbbench.results.metrics import Metric, metric
from lbbench.results.rank import ALPHA, mann_whitney
from lbbench.scenario.suite_file import MapSpec


@dataclass
class Entry:
    contender: str
    value: float  # median of its trials' values
    samples: list[float]
    valid: bool
    error_rate: float = 0.0  # over all its trials
    eligible: bool = True  # its error rate within max_extra_errors of the cell's lowest


@dataclass
class Cell:
    row: str
    column: str
    entries: list[Entry]  # better first
    p: float | None = None  # the winner against the runner-up

    @property
    def winner(self) -> Entry:
        return self.entries[0]

    @property
    def runner_up(self) -> Entry | None:
        return self.entries[1] if len(self.entries) > 1 else None

    @property
    def clear(self) -> bool:
        return self.p is not None and self.p < ALPHA

    @property
    def valid(self) -> bool:
        return all(e.valid for e in self.entries)


@dataclass
class WinnerMap:
    spec: MapSpec
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], Cell]

    def margin(self, cell: Cell) -> str:
        """How far ahead the winner is: "1.35x" (times, rates, counts) or "0.020" (points)."""
        runner = cell.runner_up
        if runner is None:
            return "alone"
        if not runner.eligible:
            return "the only one without extra errors"
        chosen = metric(self.spec.metric)
        if chosen.kind == "index":
            return f"{abs(runner.value - cell.winner.value):.3f}"
        low, high = sorted((cell.winner.value, runner.value))
        if low <= 0:
            return "-" if high <= 0 else "inf"
        return f"{high / low:.2f}x"

    def grid(self) -> list[tuple[str, list[Cell | None]]]:
        """The map row by row: each row's label and its cells across (None: not run)."""
        return [(row, [self.cells.get((row, c)) for c in self.columns]) for row in self.rows]

    @property
    def better(self) -> str:
        return "lowest" if metric(self.spec.metric).lower_is_better else "highest"

    def title(self) -> str:
        return f"winner map: {self.better} {self.spec.metric} per cell"

    def wins(self, clear: bool = True) -> dict[str, int]:
        """Cells each contender wins, most first: the clear wins, or (``clear`` False) the
        wins the trials cannot tell from the runner-up."""
        counted: dict[str, int] = {}
        for cell in self.cells.values():
            if cell.clear == clear:
                counted[cell.winner.contender] = counted.get(cell.winner.contender, 0) + 1
        return dict(sorted(counted.items(), key=lambda item: -item[1]))


def _label(cell: Mapping[str, str], axes: Sequence[str]) -> str:
    return ", ".join(f"{axis} {cell[axis]}" for axis in axes)


def build_map(result: Mapping[str, Any], spec: MapSpec) -> WinnerMap:
    """The map of one result set (scenarios without every axis of the map are left out)."""
    chosen = metric(spec.metric)
    axes = (*spec.contenders, *spec.rows, *spec.columns)
    grouped: dict[tuple[str, str], list[Entry]] = {}
    rows: list[str] = []
    columns: list[str] = []
    for scenario in result["scenarios"]:
        cell = scenario.get("cell", {})
        if any(axis not in cell for axis in axes):
            continue
        row, column = _label(cell, spec.rows), _label(cell, spec.columns)
        if row not in rows:
            rows.append(row)
        if column not in columns:
            columns.append(column)
        samples = [v for t in scenario["trials"] for v in chosen.trial_values(t)]
        if not samples:
            continue
        grouped.setdefault((row, column), []).append(
            Entry(
                " ".join(cell[axis] for axis in spec.contenders),
                statistics.median(samples),
                samples,
                bool(scenario["valid"]),
                _error_rate(scenario["summary"]),
            )
        )
    cells = {}
    for place, entries in grouped.items():
        lowest = min(e.error_rate for e in entries)
        for entry in entries:
            entry.eligible = entry.error_rate <= lowest + spec.max_extra_errors
        entries.sort(
            key=lambda e: (not e.eligible, e.value if chosen.lower_is_better else -e.value)
        )
        cell = Cell(*place, entries)
        if len(entries) > 1 and entries[1].eligible:
            cell.p = mann_whitney(entries[0].samples, entries[1].samples)[0]
        elif len(entries) > 1:
            cell.p = 0.0  # the only contender that does not fail more: a clear win
        cells[place] = cell
    return WinnerMap(spec, rows, columns, cells)


MAX_COLUMNS = 8  # wider maps are only in the HTML page


def map_summary(built: WinnerMap):
    """For the terminal: the map itself when it is narrow enough, else each contender's wins."""
    if len(built.columns) <= MAX_COLUMNS:
        return map_table(built)
    from rich.table import Table

    table = Table(
        title=f"{built.title()}, {len(built.cells)} cells: how many each contender wins",
        title_justify="left",
    )
    table.add_column("contender")
    table.add_column("clear wins", justify="right")
    table.add_column("wins the trials cannot tell apart", justify="right")
    clear, unclear = built.wins(), built.wins(clear=False)
    for name in sorted(set(clear) | set(unclear), key=lambda n: (-clear.get(n, 0), n)):
        table.add_row(name, str(clear.get(name, 0)), str(unclear.get(name, 0)))
    return table


def map_path(result_path: Path) -> Path:
    """Where a result set's HTML map goes by default: beside it, ``<result>.map.html``."""
    return result_path.with_name(result_path.stem + ".map.html")


def write_map(result: Mapping[str, Any], built: WinnerMap, path: Path) -> Path:
    """Write the HTML map of ``result`` to ``path``."""
    try:
        path.write_text(render_map(result, built), encoding="utf-8")
    except OSError as error:
        raise LbbenchError(str(path), f"cannot write the winner map: {error.strerror}") from None
    return path


def spec_of(result: Mapping[str, Any], where: str) -> MapSpec:
    """The map a result set's suite asked for (``config.map``)."""
    table = result.get("config", {}).get("map")
    if not isinstance(table, Mapping):
        raise LbbenchError(where, "has no winner map: its suite has no [map]")
    return MapSpec(
        tuple(table["contenders"]),
        tuple(table["rows"]),
        tuple(table["columns"]),
        table["metric"],
        table.get("max_extra_errors", 0.001),
    )


def map_table(built: WinnerMap):
    """The rich table: each cell's winner and margin (* when the trials tell it apart)."""
    from rich.table import Table

    title = built.title() + "; margin over the runner-up; * = Mann-Whitney p < 0.05"
    table = Table(title=title, title_justify="left")
    table.add_column(" / ".join(built.spec.rows))
    for column in built.columns:
        table.add_column(column, justify="left")
    for row, cells in built.grid():
        shown = []
        for cell in cells:
            if cell is None:
                shown.append("-")
                continue
            mark = "*" if cell.clear else ""
            invalid = "" if cell.valid else " (INVALID)"
            shown.append(f"{cell.winner.contender} {built.margin(cell)}{mark}{invalid}")
        table.add_row(row, *shown)
    return table


# A colour per contender, the most clear wins first: readable on white, distinct enough.
_PALETTE = [
    "#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69",
    "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f", "#e5c494",
]  # fmt: skip


def render_map(result: Mapping[str, Any], built: WinnerMap) -> str:
    """The winner map of ``result`` as one self-contained HTML page: the map, then the table
    behind it."""
    spec = built.spec
    chosen: Metric = metric(spec.metric)
    wins = built.wins()
    contenders = sorted(
        {e.contender for c in built.cells.values() for e in c.entries},
        key=lambda name: (-wins.get(name, 0), name),  # by name on ties: the same page every time
    )
    colour = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(contenders)}
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in built.columns)
    body = []
    for row, row_cells in built.grid():
        cells = []
        for cell in row_cells:
            if cell is None:
                cells.append("<td>-</td>")
                continue
            winner = cell.winner
            p = "" if cell.p is None else f"p = {cell.p:.3g}"
            style = (
                f"background:{colour[winner.contender]}"
                if cell.clear
                else (
                    f"background:repeating-linear-gradient(45deg,{colour[winner.contender]},"
                    f"{colour[winner.contender]} 4px,#fff 4px,#fff 8px)"
                )
            )
            runner = cell.runner_up
            tip = (
                f"{winner.contender}: {winner.value:.4g}; runner-up "
                f"{runner.contender}: {runner.value:.4g}; {p}"
                if runner
                else winner.contender
            )
            text = f"{e(winner.contender)}<br><small>{e(built.margin(cell))}</small>"
            if not cell.valid:
                text += "<br><b>INVALID</b>"
            cells.append(f'<td style="{style}" title="{e(tip)}">{text}</td>')
        body.append(f"<tr><th>{e(row)}</th>{''.join(cells)}</tr>")
    legend = "".join(
        f'<span style="background:{colour[name]};padding:2px 8px;margin-right:6px">'
        f"{e(name)}: {wins.get(name, 0)} clear wins</span>"
        for name in contenders
    )
    detail = []
    for (row, column), cell in built.cells.items():
        for rank, entry in enumerate(cell.entries, 1):
            detail.append(
                "<tr>"
                + "".join(
                    f"<td>{e(str(v))}</td>"
                    for v in (
                        row,
                        column,
                        rank,
                        entry.contender,
                        f"{entry.value:.4g}",
                        f"{100 * entry.error_rate:.2f}%" + ("" if entry.eligible else " (out)"),
                        len(entry.samples),
                        "" if rank > 1 or cell.p is None else f"{cell.p:.3g}",
                        "yes" if entry.valid else "NO",
                    )
                )
                + "</tr>"
            )
    unit = f" ({chosen.unit})" if chosen.unit else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>lbbench winner map</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:center}"
        "th{background:#f4f4f4}small{color:#333}</style></head><body>"
        f"<h1>Winner map: {e(result.get('label', ''))}</h1>"
        f"<p>Run {e(str(result.get('run_id', '')))}. Each cell: the contender "
        f"({e(' '.join(spec.contenders))}) with the {built.better} {e(spec.metric)}{e(unit)} "
        "(median over trials, all contenders on the same seeds), and its margin over the "
        "runner-up. A contender whose error rate is more than "
        f"{100 * spec.max_extra_errors:g} points above the cell's lowest cannot win on latency "
        "(failing fast is not being fast). Solid colour: the trials tell the winner and the "
        f"runner-up apart (two-sided Mann-Whitney U, p &lt; {ALPHA}); hatched: they do not. "
        "Hover a cell for both values.</p>"
        f"<p>{legend}</p>"
        f"<table><tr><th>{e(' / '.join(spec.rows))}</th>{head}</tr>{''.join(body)}</table>"
        f"<h2>The table behind it</h2><table><tr><th>{e(' / '.join(spec.rows))}</th>"
        f"<th>{e(' / '.join(spec.columns))}</th><th>rank</th><th>contender</th>"
        f"<th>{e(spec.metric)}{e(unit)}</th><th>errors</th><th>trials</th>"
        f"<th>p winner vs runner-up</th><th>valid</th></tr>{''.join(detail)}</table></body></html>"
    )


def _error_rate(summary: dict[str, Any]) -> float:
    """A scenario's error rate: the one its summary states (an optional field of the
    file's schema), else from its requests (answered and not ok, over answered)."""
    stated = summary.get("error_rate")
    if stated is not None:
        return float(stated)
    requests = summary["requests"]
    answered = requests["sent"] - requests.get("lost", 0)
    return (answered - requests.get("ok", 0)) / answered if answered > 0 else 0.0
