"""The ``lbbench`` command line: parse, build configuration, call one function.

User errors (bad flags, bad configuration) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lbbench import __version__
from lbbench.config import FAILOVER_MODES
from lbbench.errors import LbbenchError
from lbbench.strategies import STRATEGIES, strategy_options

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"lbbench: error: {message}\n")


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
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
    modes = Table(title="Failover modes (--failover, combine with commas)", title_justify="left")
    modes.add_column("name", style="bold")
    modes.add_column("what it does")
    for name, text in FAILOVER_MODES.items():
        modes.add_row(name, text)
    console.print(modes)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lbbench",
        description="Which RPC load-balancing strategy and failover mode should I run?",
    )
    parser.add_argument("--version", action="version", version=f"lbbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    show = commands.add_parser("list", help="show strategies and failover modes")
    show.set_defaults(func=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
