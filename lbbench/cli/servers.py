"""The long-running parts, one per terminal: ``lbbench balancer``, ``target`` and ``gateway``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from lbbench.checks import check_number
from lbbench.cli.common import add_routing, router_config
from lbbench.errors import ConfigError
from lbbench.protocol import DEFAULT_BACKEND, DEFAULT_CONTROL, DEFAULT_FRONTEND


def add_parsers(commands: Any) -> None:
    bal = commands.add_parser("balancer", help="run the ZeroMQ balancer under test")
    bal.add_argument("--frontend", default=DEFAULT_FRONTEND, help="client socket (ROUTER)")
    bal.add_argument("--backend", default=DEFAULT_BACKEND, help="target socket (ROUTER)")
    bal.add_argument("--control", default=DEFAULT_CONTROL, help="control/stats socket (REP)")
    add_routing(bal)
    bal.add_argument("--targets", help="fleet profile: its weights and tiers win over READY")
    bal.add_argument(
        "--forget-after",
        type=float,
        default=10.0,
        help="seconds of silence after which a joined target is removed (default 10)",
    )
    bal.add_argument(
        "--max-message-size",
        type=int,
        metavar="BYTES",
        help="largest frame a client or target may send; bigger: disconnected (default 16384)",
    )
    bal.add_argument(
        "--max-wait",
        type=float,
        metavar="SECONDS",
        help="longest a request waits in the balancer's inbox before it is answered "
        "overloaded (default: a tenth of the deadline)",
    )
    bal.add_argument(
        "--max-held",
        type=int,
        metavar="BYTES",
        help="bytes of requests held (waiting or in flight); beyond: overloaded (default 64 MiB)",
    )
    bal.add_argument(
        "--curve-secret",
        metavar="FILE",
        help="CurveZMQ: the balancer's secret key (balancer.key_secret from `lbbench keys`); "
        "then only peers with an authorized key can connect to any of its sockets",
    )
    bal.add_argument(
        "--curve-authorized",
        metavar="DIR",
        help="public keys (*.key) allowed to connect (default: authorized/ beside the secret)",
    )
    bal.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding beyond loopback without keys (anyone who reaches it can use it)",
    )
    bal.add_argument("--seed", type=int, default=0)
    bal.add_argument(
        "--index",
        type=int,
        default=0,
        help="this balancer's place among several sharing one fleet (its random stream; default 0)",
    )
    bal.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    bal.set_defaults(func=balancer)

    keys = commands.add_parser(
        "keys", help="make CurveZMQ keys for a balancer, its clients and targets"
    )
    keys.add_argument("folder", metavar="DIR", help="where to write them (new files only)")
    keys.set_defaults(func=make_keys)

    gw = commands.add_parser("gateway", help="gRPC server forwarding calls into the balancer")
    gw.add_argument("--listen", default="127.0.0.1:50050", help="gRPC address to serve on")
    gw.add_argument("--balancer", default=DEFAULT_FRONTEND, help="the balancer's frontend")
    gw.add_argument(
        "--timeout", type=float, default=2.0, help="seconds, for calls without a deadline"
    )
    gw.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    gw.set_defaults(func=gateway)

    tgt = commands.add_parser("target", help="run one mock target")
    tgt.add_argument("--id", default="t0", help="target id (its routing id)")
    tgt.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        help="balancer backend address, several joined by commas (balancers sharing the "
        "fleet: it answers each on its own connection), or 'none'",
    )
    tgt.add_argument("--bind", help="also serve clients directly on this address")
    tgt.add_argument(
        "--grpc",
        action="store_true",
        help="serve gRPC on --bind (default 127.0.0.1:50051) instead of joining a balancer",
    )
    tgt.add_argument(
        "--h2",
        action="store_true",
        help="with --grpc: an HTTP/2 server of its own instead of grpcio's, which can signal "
        "an error as an HTTP 503, a reset stream or a closed connection (fault signal)",
    )
    tgt.add_argument("--targets", help="fleet profile holding this target's settings")
    tgt.add_argument("--capacity", type=int, help="requests served at once")
    tgt.add_argument(
        "--schedule", action="store_true", help="apply the profile's faults for this target"
    )
    tgt.add_argument(
        "--curve-secret", metavar="FILE", help="CurveZMQ: its secret key (target.key_secret)"
    )
    tgt.add_argument(
        "--curve-server", metavar="FILE", help="CurveZMQ: the balancer's public key (balancer.key)"
    )
    tgt.add_argument(
        "--insecure", action="store_true", help="allow --bind beyond loopback (it has no keys)"
    )
    tgt.add_argument("--seed", type=int, default=0)
    tgt.add_argument(
        "--tally",
        metavar="FILE",
        help="on exit, append what it answered for the balancers and the time those "
        "requests spent in it (a JSON line: the rig's own latency is the rest)",
    )
    tgt.add_argument(
        "--report-every",
        type=float,
        metavar="SECONDS",
        help='post its load to every balancer each period (for view = "reports"; at least 0.01)',
    )
    tgt.add_argument(
        "--report-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="each load report reaches the balancers this much later (default 0)",
    )
    tgt.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    tgt.set_defaults(func=target)


def balancer(args: argparse.Namespace) -> int:
    from lbbench.balancer import Balancer, serve
    from lbbench.balancer.limits import Limits
    from lbbench.scenario.profiles import load_profile

    config = router_config(args)
    if args.index < 0:
        raise ConfigError("--index", f"must be >= 0, got {args.index}")
    given = {
        "max_message_size": args.max_message_size,
        "max_wait_s": args.max_wait,
        "max_held_bytes": args.max_held,
    }
    limits = Limits(**{name: value for name, value in given.items() if value is not None})
    security = None
    if args.curve_secret:
        from lbbench.security import ServerKeys

        security = ServerKeys.load(args.curve_secret, args.curve_authorized)
    elif args.curve_authorized:
        raise ConfigError("--curve-authorized", "needs --curve-secret (the balancer's key)")
    known = {}
    if args.targets:
        profile = load_profile(args.targets)
        known = {t.id: t.backend() for t in profile.targets}
    instance = Balancer(
        config,
        frontend=args.frontend,
        backend=args.backend,
        control=args.control or None,
        seed=args.seed,
        index=args.index,
        weights=known,
        forget_after_s=args.forget_after,
        limits=limits,
        security=security,
        insecure=args.insecure,
    )
    return serve(instance, announce=args.announce)


def target(args: argparse.Namespace) -> int:
    from lbbench.scenario.profiles import TargetSpec, load_profile
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
    if args.report_every is not None:
        from lbbench.balancer.control import MIN_LIVE_REPORT_PERIOD_S

        check_number("--report-every", args.report_every, low=MIN_LIVE_REPORT_PERIOD_S)
    check_number("--report-delay", args.report_delay, low=0.0)
    if args.h2 and not args.grpc:
        raise ConfigError("--h2", "goes with --grpc")
    if args.grpc:
        if args.h2:
            from lbbench.rpc.h2target import serve as serve_grpc
        else:
            from lbbench.rpc.target import serve as serve_grpc

        return serve_grpc(
            spec,
            args.bind or "127.0.0.1:50051",
            seed=args.seed,
            schedule=schedule,
            announce_to=sys.stdout if args.announce else None,
        )
    backend = None if args.backend == "none" else args.backend
    backends = None if backend is None else [a.strip() for a in backend.split(",")]
    if backends is not None and (not all(backends) or len(set(backends)) < len(backends)):
        raise ConfigError("--backend", f"addresses joined by commas, each once: {backend!r}")
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
        backends,
        bind=args.bind,
        seed=args.seed,
        schedule=schedule,
        announce_to=sys.stdout if args.announce else None,
        keys=peer_keys(args),
        insecure=args.insecure,
        tally=args.tally,
        report_every_s=args.report_every,
        report_delay_s=args.report_delay,
    )


def peer_keys(args: argparse.Namespace) -> Any:
    """A peer's CurveZMQ keys from --curve-secret and --curve-server (both, or neither)."""
    if not args.curve_secret and not args.curve_server:
        return None
    if not (args.curve_secret and args.curve_server):
        missing = "--curve-server" if args.curve_secret else "--curve-secret"
        raise ConfigError(missing, "CurveZMQ needs both --curve-secret and --curve-server")
    from lbbench.security import PeerKeys

    return PeerKeys.load(args.curve_secret, args.curve_server)


def make_keys(args: argparse.Namespace) -> int:
    from lbbench.security import create_keys

    for path in create_keys(args.folder):
        print(path)
    return 0


def gateway(args: argparse.Namespace) -> int:
    from lbbench.checks import check_number
    from lbbench.rpc.gateway import serve

    check_number("--timeout", args.timeout, low=0.0, low_open=True)
    return serve(args.listen, args.balancer, args.timeout, sys.stdout if args.announce else None)
