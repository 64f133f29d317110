"""``lbbench compare``, ``gate`` and ``report``: result sets against each other."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lbbench.cli.common import EXIT_INVALID
from lbbench.errors import ConfigError

DEFAULT_FAIL_ON = "p99:+10%,throughput:-5%,jain:-0.02"


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
        help='worst tolerated changes, e.g. "p99:+10%%,throughput:-5%%,jain:-0.02" (default: '
        f"the suite's [gate] fail_on, else {DEFAULT_FAIL_ON.replace('%', '%%')})",
    )
    gat.add_argument(
        "--require-valid",
        action="store_true",
        help="exit 3 instead of judging when a scenario is marked invalid",
    )
    gat.add_argument("--json", action="store_true")
    gat.set_defaults(func=gate)

    rnk = commands.add_parser(
        "rank", help="rank each experiment's scenarios by an objective, with significance"
    )
    rnk.add_argument("results", nargs="+", help="result files or folders (their trials pool)")
    rnk.add_argument(
        "--by",
        default="p99",
        help="metrics in order (lexicographic), e.g. error_rate,p99 (default p99)",
    )
    rnk.add_argument(
        "--within",
        help="matrix axes whose values are ranked apart, e.g. load,fault (a sweep's cells)",
    )
    rnk.add_argument("--alpha", type=float, default=0.05, help="family-wise error (default 0.05)")
    rnk.add_argument("--json", action="store_true", help="print the rankings as JSON")
    rnk.set_defaults(func=rank)

    rep = commands.add_parser("report", help="HTML report with plots from result sets")
    rep.add_argument("results", nargs="+", help="result files or folders")
    rep.add_argument("--out", default="report.html", help="HTML file to write")
    rep.add_argument("--png", help="also write each plot as a PNG into this folder")
    rep.set_defaults(func=report)

    mp = commands.add_parser(
        "map", help="the winner map of a sweep's result set (its suite's [map]) as HTML"
    )
    mp.add_argument("result", help="a result file of a suite with a [map] (e.g. winner-map)")
    mp.add_argument("--out", help="HTML file to write (default: beside the result, .map.html)")
    mp.set_defaults(func=winner_map)


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
    matched = 0
    base_kinds = _kinds(loaded[0])
    for name, group in zip(args.results[1:], loaded[1:], strict=True):
        rows = compare(base, merge_scenarios(group))
        matched += bool(rows)
        comparison["comparisons"].append({"base": args.results[0], "other": name, "rows": rows})
        kinds = _kinds(group)
        if rows and base_kinds != kinds:
            warnings.append(
                f"{args.results[0]} is {'/'.join(sorted(base_kinds))}, {name} is "
                f"{'/'.join(sorted(kinds))}: a simulation against a live run compares models"
            )
        if not args.json:
            if not rows:
                console.print(
                    f"no scenario of {name} matches one of {args.results[0]} (scenarios match "
                    "by key; to order different strategies or settings, use lbbench rank)"
                )
            else:
                console.print(_comparison_table(rows, f"{args.results[0]} -> {name}"))
    if args.json:
        print(json.dumps(comparison, indent=1))
    else:
        for warning in warnings:
            _warn(warning if "compares models" in warning else f"environments differ: {warning}")
    return 0 if matched == len(loaded) - 1 else 1


def _kinds(sets: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """live and/or simulated, over the scenarios of some result sets."""
    return {
        "simulated" if scenario.get("simulated") else "live"
        for _, data in sets
        for scenario in data["scenarios"]
    }


def gate(args: argparse.Namespace) -> int:
    from lbbench.results.compare import (
        compare,
        environment_warnings,
        gate,
        load_sets,
        merge_scenarios,
        parse_thresholds,
    )

    current = load_sets([args.current])
    baseline = load_sets([args.baseline])
    if args.fail_on is None:  # the suite's own, when the run says it
        suite_gates = {data["config"].get("gate") for _, data in current} - {None, ""}
        args.fail_on = suite_gates.pop() if len(suite_gates) == 1 else DEFAULT_FAIL_ON
    thresholds = parse_thresholds(args.fail_on)
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


def parse_by(text: str, where: str = "--by") -> tuple[str, ...]:
    from lbbench.results.metrics import METRICS

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(where, "names no metric")
    for name in names:
        if name not in METRICS:
            raise ConfigError(where, f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    return names


def ranking_table(ranking: Any):
    """The rich table of one experiment's ranking (and its answer below, in its caption)."""
    from rich.table import Table

    from lbbench.results.metrics import metric

    by = [metric(name) for name in ranking.by]
    table = Table(
        title=f"ranked by {', '.join(ranking.by)}: {ranking.experiment}",
        title_justify="left",
        caption=ranking.answer,
        caption_justify="left",
    )
    for header in ("#", "group", "scenario", "trials"):
        table.add_column(header, justify="right" if header in ("#", "trials") else "left")
    for m in by:
        table.add_column(f"{m.name} median", justify="right")
        table.add_column("vs best [95% CI]; Cliff's delta; Holm p", justify="right")
    table.add_column("valid")
    for index, row in enumerate(ranking.rows, start=1):
        cells = [str(index), ".".join(map(str, row.group)), row.name]
        cells.append(str(len(row.samples.get(by[0].sample, []))))
        for m in by:
            value = row.medians.get(m.name)
            cells.append("-" if value is None else f"{value:.4g}")
            effect = row.effects.get(m.name)
            if effect is None:
                cells.append("best" if index == 1 else "-")
                continue
            change = (
                f"{effect.relative:+.1%}"
                if effect.relative is not None
                else f"{effect.difference:+.3g}"
            )
            low, high = effect.interval
            if effect.relative is not None:  # the interval relative to the best's median too
                base = ranking.rows[0].medians[m.name]
                span = f"[{low / base:+.0%}, {high / base:+.0%}]"
            else:
                span = f"[{low:+.3g}, {high:+.3g}]"
            cells.append(f"{change} {span}; {effect.cliffs_delta:+.2f}; p {effect.p_adjusted:.2g}")
        cells.append("yes" if row.valid else "[bold red]NO[/]")
        table.add_row(*cells)
    return table


def print_rankings(rankings: list[Any], console: Any) -> None:
    for ranking in rankings:
        if ranking.refused:
            console.print(f"[yellow]not ranked[/] {ranking.experiment}: {ranking.refused}")
        else:
            console.print(ranking_table(ranking))


def rank(args: argparse.Namespace) -> int:
    from lbbench.checks import check_number
    from lbbench.results.compare import load_sets
    from lbbench.results.rank import experiments
    from lbbench.results.rank import rank as rank_experiment

    by = parse_by(args.by)
    check_number("--alpha", args.alpha, low=0.0, high=0.5, low_open=True)
    within = [axis.strip() for axis in (args.within or "").split(",") if axis.strip()]
    groups = experiments(load_sets(args.results), within)
    rankings = [rank_experiment(rows, by, name, args.alpha) for name, rows in groups.items()]
    if args.json:
        print(json.dumps([r.as_dict() for r in rankings], indent=1))
    else:
        print_rankings(rankings, _console())
    # 3, as gate's: the results cannot be judged (too few trials), which more trials mend
    return EXIT_INVALID if any(r.refused for r in rankings) else 0


def report(args: argparse.Namespace) -> int:
    from lbbench.results.compare import load_sets
    from lbbench.results.report import write_report

    sets = load_sets(args.results)
    path = write_report(sets, args.out, args.png)
    print(f"report: {path}" + (f", images in {args.png}" if args.png else ""))
    return 0


def winner_map(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from lbbench.results.compare import load_sets
    from lbbench.results.winner_map import build_map, map_path, map_summary, spec_of, write_map

    [(name, data), *_] = load_sets([args.result])
    built = build_map(data, spec_of(data, name))
    path = write_map(data, built, Path(args.out) if args.out else map_path(Path(name)))
    Console().print(map_summary(built))
    print(f"winner map: {path}")
    return 0
