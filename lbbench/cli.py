"""The ``lbbench`` command line: parse, build configuration, call one function.

User errors (bad flags, bad configuration) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

from lbbench import __version__
from lbbench.balancer import DEFAULT_BACKEND, DEFAULT_CONTROL, DEFAULT_FRONTEND
from lbbench.core.config import FailoverConfig, RouterConfig, parse_failover
from lbbench.core.failover import FAILOVER
from lbbench.core.faults import FAULT_KINDS
from lbbench.core.strategies import STRATEGIES, strategy_options
from lbbench.errors import ConfigError, LbbenchError
from lbbench.profiles import TargetSpec, list_profiles, load_profile

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"lbbench: error: {message}\n")


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    strategies = Table(title="Strategies (--strategy)", title_justify="left")
    strategies.add_column("name", style="bold")
    strategies.add_column("rule")
    strategies.add_column("options")
    for name in sorted(STRATEGIES):
        options = ", ".join(f"{k}={v}" for k, v in strategy_options(name).items())
        strategies.add_row(name, STRATEGIES[name].summary, options or "-")
    console.print(strategies)
    from lbbench.rpc.policies import MODES as GRPC_MODES
    from lbbench.rpc.policies import POLICIES as GRPC_POLICIES

    baselines = Table(
        title=f"grpcio's own policies (--strategy grpc:NAME; failover {', '.join(GRPC_MODES)})",
        title_justify="left",
    )
    baselines.add_column("name", style="bold")
    baselines.add_column("what grpcio does")
    for name, (_, text) in GRPC_POLICIES.items():
        baselines.add_row(f"grpc:{name}", text)
    console.print(baselines)
    modes = Table(title="Failover modes (--failover, combine with commas)", title_justify="left")
    modes.add_column("name", style="bold")
    modes.add_column("what it does")
    for name, policy in FAILOVER.items():
        modes.add_row(name, policy.summary)
    console.print(modes)
    faults = Table(title=escape("Fault kinds ([[fault]] in a profile)"), title_justify="left")
    faults.add_column("kind", style="bold")
    faults.add_column("what the target does")
    faults.add_column("parameters")
    for kind, (params, text) in FAULT_KINDS.items():
        faults.add_row(kind, text, ", ".join(f"{k}={v:g}" for k, v in params.items()) or "-")
    console.print(faults)
    profiles = Table(title="Fleet profiles (--targets)", title_justify="left")
    profiles.add_column("name", style="bold")
    profiles.add_column("targets", justify="right")
    profiles.add_column("description")
    for profile in list_profiles():
        profiles.add_row(profile.name, str(len(profile.targets)), profile.description)
    console.print(profiles)
    return 0


def _router_config(args: argparse.Namespace) -> RouterConfig:
    modes = parse_failover(args.failover)
    options = _options(args.option or [])
    return RouterConfig(
        strategy=args.strategy,
        strategy_options=options,
        failover=FailoverConfig(modes=modes),
        deadline_s=args.deadline,
        max_pending=args.max_pending,
    )


def _options(pairs: list[str]) -> dict[str, Any]:
    """Strategy options from ``--option name=value`` (value parsed as TOML)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ConfigError("--option", f"expected name=value, got {pair!r}")
        try:
            options[name.strip()] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[name.strip()] = text.strip()
    return options


def _balancer(args: argparse.Namespace) -> int:
    from lbbench.balancer import Balancer, serve

    config = _router_config(args)
    known = {}
    if args.targets:
        profile = load_profile(args.targets)
        known = {t.id: t.backend() for t in profile.targets}
    balancer = Balancer(
        config,
        frontend=args.frontend,
        backend=args.backend,
        control=args.control or None,
        seed=args.seed,
        weights=known,
    )
    return serve(balancer, announce=args.announce)


def _target(args: argparse.Namespace) -> int:
    from lbbench.target import serve

    if args.targets:
        profile = load_profile(args.targets)
        spec = profile.target(args.id)
        schedule = tuple(f for f in profile.faults if f.target == args.id) if args.schedule else ()
    else:
        spec = TargetSpec(args.id)
        schedule = ()
    if args.capacity is not None:
        spec = dataclasses.replace(spec, capacity=args.capacity)
    if args.grpc:
        from lbbench.rpc.target import serve as serve_grpc

        return serve_grpc(
            spec,
            args.bind or "127.0.0.1:50051",
            seed=args.seed,
            schedule=schedule,
            announce_to=sys.stdout if args.announce else None,
        )
    backend = None if args.backend == "none" else args.backend
    if backend is None and not args.bind:
        raise ConfigError("--backend", "none needs --bind, or the target serves nobody")
    if not args.announce:
        where = f"balancer {backend}" if backend else "no balancer"
        direct = f", direct clients on {args.bind}" if args.bind else ""
        print(
            f"target {spec.id}: weight {spec.weight}, tier {spec.tier}, capacity {spec.capacity}, "
            f"latency {spec.latency.describe()}; {where}{direct}",
            file=sys.stderr,
            flush=True,
        )
    return serve(
        spec,
        backend,
        bind=args.bind,
        seed=args.seed,
        schedule=schedule,
        announce_to=sys.stdout if args.announce else None,
    )


def _gateway(args: argparse.Namespace) -> int:
    from lbbench.checks import check_number
    from lbbench.rpc.gateway import serve

    check_number("--timeout", args.timeout, low=0.0, low_open=True)
    return serve(args.listen, args.balancer, args.timeout, sys.stdout if args.announce else None)


def _run(args: argparse.Namespace) -> int:
    from lbbench.loadgen import LoadSpec
    from lbbench.suites import suite

    single = any(v is not None for v in (args.strategy, args.failover, args.targets, args.rate))
    if args.trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {args.trials}")
    if single:
        profile = load_profile(args.targets or "heterogeneous")
        load = LoadSpec(
            rate=args.rate if args.rate is not None else 1000.0,
            duration_s=args.duration if args.duration is not None else 5.0,
            arrival=args.arrival,
            shape=args.shape,
            mode=args.mode,
            clients=args.clients,
            keys=args.keys,
            processes=args.processes,
        )
        scenarios = scenarios_from_flags(args, profile, load, [args.strategy or "round_robin"])
        label = "single"
    else:
        scenarios = suite(args.suite, args.seed, args.trials)
        if args.duration is not None:
            scenarios = [
                dataclasses.replace(s, load=dataclasses.replace(s.load, duration_s=args.duration))
                for s in scenarios
            ]
        label = args.suite
    config = {"suite": None if single else args.suite, "seed": args.seed, "trials": args.trials}
    return execute(scenarios, args, label, config)


def scenarios_from_flags(
    args: argparse.Namespace, profile: Any, load: Any, strategies: list[str]
) -> list[Any]:
    """One scenario per strategy from --failover, --option, --seed, --trials, --deadline."""
    from lbbench.runner import Scenario

    modes = parse_failover(args.failover or "fail_fast")
    options = tuple(sorted(_options(args.option or []).items()))
    return [
        Scenario(
            name=f"{strategy} {'+'.join(modes)} on {profile.name}",
            profile=profile,
            strategy=strategy,
            failover=modes,
            load=load,
            strategy_options=options,
            seed=args.seed,
            trials=args.trials,
            deadline_s=args.deadline,
        )
        for strategy in strategies
    ]


def execute(
    scenarios: list[Any],
    args: argparse.Namespace,
    label: str,
    config: dict[str, Any],
    *,
    trial: Any = None,
    simulated: bool = False,
    tables: Sequence[Any] = (),
) -> int:
    """Run (or simulate) every scenario with a progress display; write and print the result set."""
    import json
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lbbench.results import FORMAT, environment, new_run_id, read_result, write_result
    from lbbench.runner import run_scenario
    from lbbench.summary import problems, scenario_rows

    extra = {"trial": trial} if trial is not None else {}
    for scenario in scenarios:
        scenario.validate()  # bad input fails before anything starts
    console = Console(stderr=True)
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=args.json,
    ) as progress:
        overall = progress.add_task("suite", total=len(scenarios) * scenarios[0].trials)
        for index, scenario in enumerate(scenarios):
            trials = scenario.trials
            task = progress.add_task(f"[{index + 1}/{len(scenarios)}] {scenario.name}", total=1.0)

            def tick(done: int, fraction: float, task=task, trials=trials) -> None:
                progress.update(task, completed=(done + fraction) / trials)

            results.append(run_scenario(scenario, tick, simulated=simulated, **extra))
            progress.remove_task(task)
            progress.advance(overall, scenario.trials)
    run_id = new_run_id(label)
    data = {
        "format": FORMAT,
        "run_id": run_id,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "config": config,
        "scenarios": results,
    }
    path = write_result(data, args.out)
    read_result(path)  # what we wrote must be what we can read
    if args.json:
        print(json.dumps(data, indent=1))
    else:
        # Not a terminal (a pipe, a log): wide enough that the table stays readable.
        out = Console(width=None if sys.stdout.isatty() else 160)
        out.print(scenario_rows(data))
        for table in tables:  # views of the result a suite adds (e.g. the scale study's)
            out.print(table(data))
        out.print(f"result set: {path}")
    lost = sum(s["summary"]["requests"]["lost"] for s in results)
    issues = problems(data)
    for line in issues:
        console.print(f"[bold red]INVALID[/] {line}")
    if lost:
        console.print(f"[bold red]FAILED: {lost} requests were lost (sent != outcomes)[/]")
        return 1
    return 0


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


def _compare(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from lbbench.compare import compare, environment_warnings, load_sets, merge_scenarios

    if len(args.results) < 2:
        raise ConfigError("compare", "needs at least two result files or folders")
    loaded = [load_sets([name]) for name in args.results]
    base = merge_scenarios(loaded[0])
    everything = [item for group in loaded for item in group]
    warnings = environment_warnings(everything)
    report: dict[str, Any] = {"warnings": warnings, "comparisons": []}
    console = Console(width=None if sys.stdout.isatty() else 160)
    for name, group in zip(args.results[1:], loaded[1:], strict=True):
        rows = compare(base, merge_scenarios(group))
        report["comparisons"].append({"base": args.results[0], "other": name, "rows": rows})
        if not args.json:
            if not rows:
                console.print(f"no scenario of {name} matches one of {args.results[0]}")
            else:
                console.print(_comparison_table(rows, f"{args.results[0]} -> {name}"))
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for warning in warnings:
            Console(stderr=True).print(f"[yellow]warning:[/] environments differ: {warning}")
    return 0


def _gate(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from lbbench.compare import (
        METRICS,
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
        console = Console(width=None if sys.stdout.isatty() else 160)
        console.print(_comparison_table(rows, f"gate: baseline {args.baseline} -> {args.current}"))
        for warning in environment_warnings(baseline + current):
            Console(stderr=True).print(f"[yellow]warning:[/] environments differ: {warning}")
        for scenario in invalid:
            Console(stderr=True).print(
                f"[yellow]warning:[/] {scenario} is marked invalid on one side; see its problems"
            )
        for row in failures:
            # An index (Jain, error rate, share error) changes by points, not by a percentage.
            index = METRICS[row["metric"]].kind == "index"
            relative = "" if index else f" ({row['change']:+.1%})"
            console.print(
                f"[bold red]REGRESSION[/] {row['scenario']}: {row['metric']} "
                f"{row['in_words']}{relative}, beyond {args.fail_on}"
            )
        if not failures:
            console.print("gate: no significant regression beyond the thresholds")
    if invalid and args.require_valid:
        print("gate: cannot judge: a measurement is invalid (exit 3)", file=sys.stderr)
        return 3
    return 1 if failures else 0


def _report(args: argparse.Namespace) -> int:
    from lbbench.compare import load_sets
    from lbbench.report import write_report

    sets = load_sets(args.results)
    path = write_report(sets, args.out, args.png)
    print(f"report: {path}" + (f", images in {args.png}" if args.png else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lbbench",
        description="Which RPC load-balancing strategy and failover mode should I run?",
    )
    parser.add_argument("--version", action="version", version=f"lbbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    show = commands.add_parser(
        "list", help="show strategies, failover modes, fault kinds and fleet profiles"
    )
    show.set_defaults(func=_list)

    run = commands.add_parser("run", help="run a suite (default) or one scenario on the live rig")
    run.add_argument("--suite", default="default", help="suite to run (default, smoke)")
    run.add_argument("--targets", help="fleet profile (a name in targets/ or a .toml path)")
    run.add_argument("--strategy", help="one strategy (runs a single scenario)")
    run.add_argument("--failover", help="failover modes, comma separated")
    run.add_argument("--option", action="append", metavar="NAME=VALUE", help="strategy option")
    run.add_argument("--rate", type=float, help="offered requests per second")
    run.add_argument("--arrival", default="poisson", help="poisson or constant")
    run.add_argument("--shape", default="flat", help="flat, step or ramp")
    run.add_argument("--mode", default="open", help="open (default) or closed loop")
    run.add_argument("--clients", type=int, default=16, help="closed loop: clients")
    run.add_argument("--keys", type=int, default=0, help="distinct routing keys (0: none)")
    run.add_argument("--processes", type=int, default=1, help="generator processes")
    run.add_argument("--duration", type=float, help="seconds of load per trial")
    run.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    run.add_argument("--trials", type=int, default=1, help="repeated trials per scenario")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--out", default="results", help="folder for the result set")
    run.add_argument("--json", action="store_true", help="print the result set, not the table")
    run.set_defaults(func=_run)

    cmp = commands.add_parser("compare", help="compare result sets with significance tests")
    cmp.add_argument("results", nargs="+", help="result files or folders; the first is the base")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cmp.set_defaults(func=_compare)

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
    gat.set_defaults(func=_gate)

    rep = commands.add_parser("report", help="HTML report with plots from result sets")
    rep.add_argument("results", nargs="+", help="result files or folders")
    rep.add_argument("--out", default="report.html", help="HTML file to write")
    rep.add_argument("--png", help="also write each plot as a PNG into this folder")
    rep.set_defaults(func=_report)

    from lbbench.locust_command import add_parser as add_locust_parser
    from lbbench.sim.command import add_parser as add_sim_parser

    add_sim_parser(commands)
    add_locust_parser(commands, _options)

    bal = commands.add_parser("balancer", help="run the ZeroMQ balancer under test")
    bal.add_argument("--frontend", default=DEFAULT_FRONTEND, help="client socket (ROUTER)")
    bal.add_argument("--backend", default=DEFAULT_BACKEND, help="target socket (ROUTER)")
    bal.add_argument("--control", default=DEFAULT_CONTROL, help="control/stats socket (REP)")
    _add_routing(bal)
    bal.add_argument("--targets", help="fleet profile: its weights and tiers win over READY")
    bal.add_argument("--seed", type=int, default=0)
    bal.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    bal.set_defaults(func=_balancer)

    gw = commands.add_parser("gateway", help="gRPC server forwarding calls into the balancer")
    gw.add_argument("--listen", default="127.0.0.1:50050", help="gRPC address to serve on")
    gw.add_argument("--balancer", default=DEFAULT_FRONTEND, help="the balancer's frontend")
    gw.add_argument(
        "--timeout", type=float, default=2.0, help="seconds, for calls without a deadline"
    )
    gw.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    gw.set_defaults(func=_gateway)

    tgt = commands.add_parser("target", help="run one mock target")
    tgt.add_argument("--id", default="t0", help="target id (its routing id)")
    tgt.add_argument(
        "--backend", default=DEFAULT_BACKEND, help="balancer backend address, or 'none'"
    )
    tgt.add_argument("--bind", help="also serve clients directly on this address")
    tgt.add_argument(
        "--grpc",
        action="store_true",
        help="serve gRPC on --bind (default 127.0.0.1:50051) instead of joining a balancer",
    )
    tgt.add_argument("--targets", help="fleet profile holding this target's settings")
    tgt.add_argument("--capacity", type=int, help="requests served at once")
    tgt.add_argument(
        "--schedule", action="store_true", help="apply the profile's faults for this target"
    )
    tgt.add_argument("--seed", type=int, default=0)
    tgt.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    tgt.set_defaults(func=_target)
    return parser


def _add_routing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", default="round_robin", help="see `lbbench list`")
    parser.add_argument(
        "--failover", default="fail_fast", help="modes, comma separated (see `lbbench list`)"
    )
    parser.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="strategy option, repeatable"
    )
    parser.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    parser.add_argument("--max-pending", type=int, default=10_000, help="then: overloaded")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.passthrough_args = extra  # `lbbench locust` hands the rest to Locust
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except LbbenchError as error:
        print(f"lbbench: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
