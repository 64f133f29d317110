"""The ``lbbench`` command line: parse, build configuration, call one function.

Each command lives in a module of its own here. User errors (bad flags,
bad configuration) print one line and exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lbbench import __version__
from lbbench.cli import listing, locust, results, run, servers, sim
from lbbench.cli.common import EXIT_USAGE, Parser
from lbbench.core.build import stale_warning
from lbbench.errors import LbbenchError


def build_parser() -> Parser:
    parser = Parser(
        prog="lbbench",
        description="Which RPC load-balancing strategy and failover mode should I run?",
    )
    parser.add_argument("--version", action="version", version=f"lbbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    listing.add_parser(commands)
    run.add_parser(commands)
    results.add_parsers(commands)
    sim.add_parser(commands)
    locust.add_parser(commands)
    servers.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stale = stale_warning()
    if stale:
        print(stale, file=sys.stderr)
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
