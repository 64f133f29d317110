"""Run (or simulate) scenarios with a progress display; write, check and print the result set."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lbbench.cli.common import EXIT_LOST, EXIT_RIG_FAILED
from lbbench.cli.plan import Plan
from lbbench.rigs.base import Rig, run_scenario


def execute(
    plan: Plan,
    rig: Rig,
    args: argparse.Namespace,
    *,
    tables: Sequence[Any] = (),
) -> int:
    """Every scenario's trials on ``rig``; exit 4 if a rig process died mid-trial,
    else 1 if a request was lost."""
    scenarios, label, config = plan.scenarios, plan.label, plan.config
    if plan.suite is not None and plan.suite.pivot is not None:
        from lbbench.results.pivot import pivot_table

        pivot = plan.suite.pivot
        tables = [
            *tables,
            *(
                lambda data, name=name: pivot_table(data, pivot.rows, pivot.columns, name)
                for name in pivot.metrics
            ),
        ]
    if plan.suite is not None and plan.suite.published is not None:
        from lbbench.results.published import published_table

        published = plan.suite.published
        tables = [*tables, lambda data: published_table(data, published)]
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from lbbench.results.files import new_result_set, save_result
    from lbbench.results.summary import problems, scenario_rows

    for scenario in scenarios:  # bad input fails before anything starts
        scenario.validate()
        rig.check(scenario)
    console = Console(stderr=True)
    results = []
    lean = plan.suite is not None and plan.suite.trial_detail == "lean"
    workers = min(getattr(args, "workers", None) or 1, len(scenarios))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        MofNCompleteColumn(),  # trials done / all (the suite's task; a scenario's: fractions)
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=args.json,
    ) as progress:
        overall = progress.add_task("suite", total=sum(s.trials for s in scenarios))
        dask = getattr(args, "dask", None)
        if dask:
            from lbbench.sim.parallel import run_on_dask

            progress.update(overall, description=f"suite (Dask at {dask})")
            results = run_on_dask(
                scenarios, rig, dask, lambda _, s: progress.advance(overall, s.trials), lean
            )
        elif workers > 1:
            from lbbench.sim.parallel import run_in_processes

            progress.update(overall, description=f"suite ({workers} processes)")
            results = run_in_processes(
                scenarios, rig, workers, lambda _, s: progress.advance(overall, s.trials), lean
            )
        else:
            for index, scenario in enumerate(scenarios):
                trials = scenario.trials
                task = progress.add_task(
                    f"[{index + 1}/{len(scenarios)}] {scenario.name}", total=1.0
                )

                def tick(done: int, fraction: float, task=task, trials=trials) -> None:
                    progress.update(task, completed=(done + fraction) / trials)

                results.append(run_scenario(scenario, rig, tick, lean))
                progress.remove_task(task)
                progress.advance(overall, scenario.trials)
    if plan.suite is not None:
        config = {**config, "rank_by": list(plan.suite.rank_by), "gate": plan.suite.gate}
        if plan.suite.published is not None:
            config["published"] = dataclasses.asdict(plan.suite.published)
        if plan.suite.winner_map is not None:
            config["map"] = dataclasses.asdict(plan.suite.winner_map)
    data = new_result_set(label, config, results)
    path = save_result(data, args.out)
    if args.json:
        print(json.dumps(data, indent=1))
    else:
        # Not a terminal (a pipe, a log): wide enough that the table stays readable.
        out = Console(width=None if sys.stdout.isatty() else 160)
        if len(results) <= MAX_TABLE_ROWS:
            out.print(scenario_rows(data))
        else:  # a sweep: its views say more than a table of every cell
            out.print(f"{len(results)} scenarios (each one's figures are in the result set)")
        for table in tables:  # views of the result a suite adds (e.g. the scale study's)
            out.print(table(data))
        built = None
        if plan.suite is not None and plan.suite.winner_map is not None:
            from lbbench.results.winner_map import build_map, map_path, map_summary, write_map

            built = build_map(data, plan.suite.winner_map)
            out.print(map_summary(built))
        out.print(f"result set: {path}")
        if built is not None:
            out.print(f"winner map: {write_map(data, built, map_path(Path(path)))}")
    if plan.suite is not None and plan.suite.rank_by:
        rank_suite(data, plan.suite.rank_by, console if args.json else out, plan.suite.rank_within)
    from rich.markup import escape

    proxies = sorted({s.proxy for s in plan.scenarios if s.proxy}) if rig.simulated else []
    if proxies:  # the simulator runs lbbench's router: say what was simulated
        console.print(
            f"note: {', '.join(proxies)} scenarios simulated as lbbench's equivalent of their "
            "configuration (same strategy, modes and settings; docs/proxies.md: where they differ)"
        )
    for line in problems(data):  # a proxy's own words may hold [brackets]: text, not markup
        console.print(f"[bold red]INVALID[/] {escape(line)}")
    failed = [t for s in results for t in s["trials"] if t.get("rig_failure")]
    if failed:
        unanswered = sum(t["rig_failure"]["unanswered"] for t in failed)
        console.print(
            f"[bold red]RIG FAILED in {len(failed)} trial(s)[/]: invalid, {unanswered} requests "
            "in flight there got no answer; the other trials are in the result set"
        )
        return EXIT_RIG_FAILED
    lost = sum(s["summary"]["requests"]["lost"] for s in results)
    if lost:
        console.print(f"[bold red]FAILED: {lost} requests were lost (sent != outcomes)[/]")
        return EXIT_LOST
    return 0


MAX_TABLE_ROWS = 120  # more scenarios than this (a sweep) are not listed one by one


def rank_suite(
    data: dict[str, Any], by: Sequence[str], console: Any, within: Sequence[str] = ()
) -> None:
    """The suite's ``[rank]``: each experiment of this run ranked (or why not)."""
    from lbbench.cli.results import print_rankings
    from lbbench.results.rank import experiments, rank

    groups = experiments([("this run", data)], within)
    print_rankings([rank(rows, by, name) for name, rows in groups.items()], console)
