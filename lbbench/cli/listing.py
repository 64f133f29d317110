"""``lbbench list``: strategies, grpcio's policies, failover modes, fault kinds, fleet profiles."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    show = commands.add_parser(
        "list",
        help="show strategies, failover modes, settings, fault kinds, fleet profiles and suites",
    )
    show.add_argument(
        "--show",
        metavar="NAME",
        help="print a shipped suite or fleet profile (to copy as the start of your own)",
    )
    show.set_defaults(func=run)


def _show(name: str) -> int:
    from lbbench.errors import ConfigError
    from lbbench.scenario.profiles import shipped
    from lbbench.scenario.suites import shipped_suites

    files = {**shipped(), **shipped_suites()}
    if name not in files:
        raise ConfigError(
            "--show", f"no shipped suite or profile {name!r} (known: {', '.join(files)})"
        )
    print(files[name].read_text(encoding="utf-8"), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.show:
        return _show(args.show)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lbbench.core.failover import FAILOVER
    from lbbench.core.faults import FAULT_KINDS
    from lbbench.core.settings import every_setting
    from lbbench.core.strategies import STRATEGIES, strategy_options
    from lbbench.rpc.policies import MODES as GRPC_MODES
    from lbbench.rpc.policies import POLICIES as GRPC_POLICIES
    from lbbench.scenario.profiles import list_profiles
    from lbbench.scenario.suite_file import read_suite
    from lbbench.scenario.suites import shipped_suites

    console = Console()
    strategies = Table(title="Strategies (--strategy)", title_justify="left")
    strategies.add_column("name", style="bold")
    strategies.add_column("rule")
    strategies.add_column("options")
    for name in sorted(STRATEGIES):
        options = ", ".join(f"{k}={v}" for k, v in strategy_options(name).items())
        strategies.add_row(name, STRATEGIES[name].summary, options or "-")
    console.print(strategies)
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
    settings = Table(
        title="Router settings (--set PATH=VALUE), with their defaults",
        title_justify="left",
    )
    settings.add_column("path", style="bold", no_wrap=True)
    settings.add_column("default")
    for path, value in every_setting().items():
        settings.add_row(path, repr(value))
    settings.add_row("strategy_options.<option>", "per strategy (see the strategies above)")
    console.print(settings)
    faults = Table(title=escape("Fault kinds ([[fault]] in a profile)"), title_justify="left")
    faults.add_column("kind", style="bold")
    faults.add_column("what the target does")
    faults.add_column("parameters")
    for name, kind in FAULT_KINDS.items():
        params = ", ".join(
            f"{k}={v}" if isinstance(v, str) else f"{k}={v:g}" for k, v in kind.defaults().items()
        )
        faults.add_row(name, kind.description, params or "-")
    console.print(faults)
    profiles = Table(title="Fleet profiles (--targets)", title_justify="left")
    profiles.add_column("name", style="bold")
    profiles.add_column("targets", justify="right")
    profiles.add_column("description")
    for profile in list_profiles():
        profiles.add_row(profile.name, str(len(profile.targets)), profile.description)
    console.print(profiles)
    suites = Table(
        title="Suites (lbbench run|sim SUITE; --show NAME prints one)", title_justify="left"
    )
    suites.add_column("name", style="bold")
    suites.add_column("scenarios", justify="right")
    suites.add_column("description")
    for name, path in shipped_suites().items():
        suite = read_suite(path)
        suites.add_row(name, str(len(suite.scenarios)), suite.description)
    console.print(suites)
    import lbbench
    from lbbench.core.build import build

    how = {
        "compiled": "the core and the simulator run compiled (mypyc)",
        "pure": "pure Python (set up without a C compiler, or with LBBENCH_PURE=1): the "
        "simulator runs slower, with the same results",
    }[build()]
    console.print(f"lbbench {lbbench.__version__}: {how}")
    return 0
