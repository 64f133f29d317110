"""``lbbench compare``, ``gate`` and ``report``: result sets against each other."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lbbench.errors import ConfigError

EXIT_INVALID = 3  # gate --require-valid: a measurement cannot be judged


def add_parsers(commands: Any) -> None:
    cmp = commands.add_parser("compare", help="compare result sets with significance tests")
    cmp.add_argument("results", nargs="+", help="result files or folders; the first is the base")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cmp.set_defaults(func=compare)

    gat = commands.add_parser("gate", help="exit 1 on a significant regression against a baseline")
    gat.add_argument("current", help="result file or folder to judge")
    gat.add_argument("--baseline", required=True, help="baseline result file or folder")
    gat.add_argument(
        "--fail-on",
        default="p99:+10%,throughput:-5%,jain:-0.02",
        help='worst tolerated changes, e.g. "p99:+10%%,throughput:-5%%,jain:-0.02"',
    )
    gat.add_argument(
        "--require-valid",
        action="store_true",
        help="exit 3 instead of judging when a scenario is marked invalid",
    )
    gat.add_argument("--json", action="store_true")
    gat.set_defaults(func=gate)

    rep = commands.add_parser("report", help="HTML report with plots from result sets")
    rep.add_argument("results", nargs="+", help="result files or folders")
    rep.add_argument("--out", default="report.html", help="HTML file to write")
    rep.add_argument("--png", help="also write each plot as a PNG into this folder")
    rep.set_defaults(func=report)


def _comparison_table(rows: list[dict[str, Any]], title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in ("scenario", "metric", "base", "other", "change", "verdict", "method"):
        table.add_column(header, justify="left" if header in ("scenario", "metric") else "right")
    for row in rows:
        unit = f" {row['unit']}" if row["unit"] else ""
        if row["p_value"] is not None:
            method = f"{row['method']} p={row['p_value']:.3f}"
        elif row["interval"] is not None:
            low, high = row["interval"]
            method = f"{row['method']} 95% [{low:.3g}, {high:.3g}]"
        else:
            method = row["method"]
        verdict = "significant" if row["significant"] else "not significant"
        if row["significant"] and row["worse"]:
            verdict = f"[bold red]{verdict}[/]"
        table.add_row(
            row["scenario"],
            row["metric"],
            f"{row['base']:.4g}{unit} (n={row['base_samples']})",
            f"{row['other']:.4g}{unit} (n={row['other_samples']})",
            row["in_words"],
            verdict,
            method,
        )
    return table


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def _warn(text: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[yellow]warning:[/] {text}")


def compare(args: argparse.Namespace) -> int:
    from lbbench.results.compare import compare, environment_warnings, load_sets, merge_scenarios

    if len(args.results) < 2:
        raise ConfigError("compare", "needs at least two result files or folders")
    loaded = [load_sets([name]) for name in args.results]
    base = merge_scenarios(loaded[0])
    everything = [item for group in loaded for item in group]
    warnings = environment_warnings(everything)
    comparison: dict[str, Any] = {"warnings": warnings, "comparisons": []}
    console = _console()
    for name, group in zip(args.results[1:], loaded[1:], strict=True):
        rows = compare(base, merge_scenarios(group))
        comparison["comparisons"].append({"base": args.results[0], "other": name, "rows": rows})
        if not args.json:
            if not rows:
                console.print(f"no scenario of {name} matches one of {args.results[0]}")
            else:
                console.print(_comparison_table(rows, f"{args.results[0]} -> {name}"))
    if args.json:
        print(json.dumps(comparison, indent=1))
    else:
        for warning in warnings:
            _warn(f"environments differ: {warning}")
    return 0


def gate(args: argparse.Namespace) -> int:
    from lbbench.results.compare import (
        compare,
        environment_warnings,
        gate,
        load_sets,
        merge_scenarios,
        parse_thresholds,
    )

    thresholds = parse_thresholds(args.fail_on)
    current = load_sets([args.current])
    baseline = load_sets([args.baseline])
    names = [t.metric.name for t in thresholds]
    rows = compare(merge_scenarios(baseline), merge_scenarios(current), names)
    if not rows:
        raise ConfigError("gate", f"no scenario of {args.current} matches the baseline")
    failures = gate(rows, thresholds)
    invalid = sorted({r["scenario"] for r in rows if not r["valid"]})
    if args.json:
        print(json.dumps({"rows": rows, "failures": failures}, indent=1))
    else:
        console = _console()
        console.print(_comparison_table(rows, f"gate: baseline {args.baseline} -> {args.current}"))
        for warning in environment_warnings(baseline + current):
            _warn(f"environments differ: {warning}")
        for scenario in invalid:
            _warn(f"{scenario} is marked invalid on one side; see its problems")
        by_name = {t.metric.name: t.metric for t in thresholds}
        for row in failures:
            # An index (Jain, error rate, share error) changes by points, not by a percentage.
            index = by_name[row["metric"]].kind == "index"
            relative = "" if index else f" ({row['change']:+.1%})"
            console.print(
                f"[bold red]REGRESSION[/] {row['scenario']}: {row['metric']} "
                f"{row['in_words']}{relative}, beyond {args.fail_on}"
            )
        if not failures:
            console.print("gate: no significant regression beyond the thresholds")
    if invalid and args.require_valid:
        print("gate: cannot judge: a measurement is invalid (exit 3)", file=sys.stderr)
        return EXIT_INVALID
    return 1 if failures else 0


def report(args: argparse.Namespace) -> int:
    from lbbench.results.compare import load_sets
    from lbbench.results.report import write_report

    sets = load_sets(args.results)
    path = write_report(sets, args.out, args.png)
    print(f"report: {path}" + (f", images in {args.png}" if args.png else ""))
    return 0
