"""``lbbench locust``: a live rig and Locust together, torn down together.

Starts the balancer and the profile's targets (as ``lbbench run`` does,
on 127.0.0.1 with OS-chosen ports), then Locust with the lbbench
locustfile pointed at them: the web UI on http://127.0.0.1:8089 by
default, or headless with Locust's own flags (``--headless -u 20 -r 10
-t 30s``), which are passed through, as are ``--master``, ``--worker``
and ``--processes``. A target that exits (a crash injected from the UI)
is started again ``--restart-s`` later, as a supervisor would. Everything
stops when Locust exits or on Ctrl-C; Locust's exit code is returned.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from lbbench.cli.common import parse_options
from lbbench.core.config import parse_failover
from lbbench.errors import ConfigError
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario

# Shipped in the package as lbbench.locustfiles (the top-level locustfiles/
# folder of the source tree), so any install finds them.
LOCUSTFILES = Path(str(resources.files("lbbench.locustfiles")))
LOCUSTFILE = LOCUSTFILES / "zmq_balancer.py"
GATEWAY_LOCUSTFILE = LOCUSTFILES / "grpc_gateway.py"


def add_parser(commands: Any) -> None:
    cmd = commands.add_parser(
        "locust",
        help="start the rig and Locust on it (web UI on 127.0.0.1:8089); Locust flags pass through",
    )
    cmd.add_argument("--targets", default="heterogeneous", help="fleet profile of the rig")
    cmd.add_argument("--strategy", default="round_robin", help="see `lbbench list`")
    cmd.add_argument("--failover", default="fail_fast", help="modes, comma separated")
    cmd.add_argument("--option", action="append", metavar="NAME=VALUE", help="strategy option")
    cmd.add_argument("--deadline", type=float, default=1.0, help="request deadline, seconds")
    cmd.add_argument("--pacing-s", type=float, default=0.01, help="seconds between a user's calls")
    cmd.add_argument("--restart-s", type=float, default=2.0, help="restart a crashed target after")
    cmd.add_argument(
        "--locustfile",
        help="Locust file(s), comma separated (default: locustfiles/zmq_balancer.py)",
    )
    cmd.add_argument(
        "--via-gateway",
        action="store_true",
        help="also start `lbbench gateway`; users call it over gRPC (locustfiles/grpc_gateway.py)",
    )
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("--out", default="results", help="folder for the result set ('' for none)")
    cmd.set_defaults(func=run, passthrough=True)


def run(args: argparse.Namespace) -> int:
    from lbbench.rigs.live import LiveProcesses

    if not args.pacing_s > 0:
        raise ConfigError("--pacing-s", f"must be > 0, got {args.pacing_s}")
    default = GATEWAY_LOCUSTFILE if args.via_gateway else LOCUSTFILE
    args.locustfile = args.locustfile or str(default)
    for name in args.locustfile.split(","):
        if not Path(name).is_file():
            raise ConfigError("--locustfile", f"no such file: {name}")
    profile = load_profile(args.targets)
    scenario = Scenario(
        name="locust",
        profile=profile,
        strategy=args.strategy,
        failover=parse_failover(args.failover),
        load=LoadSpec(),
        strategy_options=tuple(sorted(parse_options(args.option or []).items())),
        seed=args.seed,
        deadline_s=args.deadline,
    )
    if args.strategy.startswith("grpc:"):
        raise ConfigError("--strategy", "Locust drives the ZeroMQ balancer: an lbbench strategy")
    scenario.validate()  # bad input fails before anything starts
    with LiveProcesses(scenario, args.seed) as rig:
        rig.wait_ready()
        host = rig.frontend
        if args.via_gateway:
            host = rig.start_gateway()
        command = [
            sys.executable, "-m", "locust",
            "-f", args.locustfile,
            "--host", host,
            "--lbbench-control", rig.endpoints["control"],
            "--lbbench-profile", profile.source,
            "--lbbench-out", args.out,
            "--web-host", "127.0.0.1",
            *args.passthrough_args,
        ]  # fmt: skip
        environment = {**os.environ, "LBBENCH_PACING_S": repr(args.pacing_s)}
        print(
            f"lbbench: rig up (Locust calls {host}, control {rig.endpoints['control']}, "
            f"{len(profile.targets)} targets of {profile.name}); starting Locust",
            file=sys.stderr,
            flush=True,
        )
        locust = subprocess.Popen(command, env=environment)
        try:
            return _supervise(rig, locust, args.restart_s)
        except KeyboardInterrupt:
            locust.send_signal(signal.SIGINT)  # Locust quits cleanly and writes its result
            return locust.wait(timeout=30)
        finally:
            if locust.poll() is None:
                locust.kill()
                locust.wait(timeout=10)


def _supervise(rig: Any, locust: subprocess.Popen, restart_s: float) -> int:
    """Wait for Locust; restart any target that exited, ``restart_s`` after it did."""
    down_since: dict[str, float] = {}
    while True:
        code = locust.poll()
        if code is not None:
            return code
        now = time.monotonic()
        for target_id, process in list(rig.targets.items()):
            if process.popen.poll() is None:
                continue
            since = down_since.setdefault(target_id, now)
            if now - since >= restart_s:
                del down_since[target_id]
                rig.restart_target(target_id)
                print(f"lbbench: target {target_id} exited; started again", file=sys.stderr)
        time.sleep(0.1)
