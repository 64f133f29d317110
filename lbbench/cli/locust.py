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
import math
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from lbbench.cli.common import (
    add_balancer_flag,
    add_routing_flags,
    add_set,
    parse_settings,
    scenario_from_flags,
)
from lbbench.core.config import DEFAULT_STRATEGY
from lbbench.errors import ConfigError
from lbbench.rigs.process import quit_with_parent
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.scenario.suites import load_suite

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
    cmd.add_argument(
        "--suite",
        help="take the rig (fleet, strategy, failover, settings) and the load from a scenario "
        "of this suite (a .toml file or a shipped name)",
    )
    cmd.add_argument(
        "--scenario",
        help="with --suite: the scenario's name or number (from 1; default: the first)",
    )
    cmd.add_argument("--targets", help="fleet profile of the rig (default heterogeneous)")
    add_routing_flags(cmd)
    add_balancer_flag(cmd)
    add_set(cmd)
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
    args.given_locustfile = args.locustfile is not None
    args.locustfile = args.locustfile or str(default)
    for name in args.locustfile.split(","):
        if not Path(name).is_file():
            raise ConfigError("--locustfile", f"no such file: {name}")
    scenario = _scenario(args)
    from lbbench.rigs.live import check_live_limits

    check_live_limits(scenario, runs_one="lbbench locust")
    if scenario.balancer == "grpc":
        raise ConfigError(
            "--strategy",
            "grpcio's policies balance inside each client: Locust's users have no "
            f"balancer to call; measure {scenario.strategy} with lbbench run",
        )
    if scenario.proxy is not None:
        if args.via_gateway:
            raise ConfigError("--via-gateway", f"the users call {scenario.proxy} over gRPC already")
        if not args.given_locustfile:
            args.locustfile = str(GATEWAY_LOCUSTFILE)  # the users speak gRPC to the proxy
        return _run_through_proxy(scenario, args)
    scenario.validate()  # bad input fails before anything starts
    with LiveProcesses(scenario, args.seed) as rig:
        rig.wait_ready()
        host = rig.frontend
        if args.via_gateway:
            host = rig.start_gateway()
        return _locust(rig, scenario, args, host, rig.endpoints["control"])


def _run_through_proxy(scenario: Scenario, args: argparse.Namespace) -> int:
    """Locust's gRPC users call Envoy, HAProxy or NGINX in front of the fleet's gRPC
    targets; the balancer page reads the proxy's own view and injects faults into the
    targets (``lbbench.proxies.control``)."""
    from lbbench.proxies.control import ProxyControl
    from lbbench.proxies.rig import ProxyFleet, ProxyRig

    ProxyRig().check(scenario)  # the scenario, the binary and the config, before anything
    with ProxyFleet(scenario, args.seed) as fleet, ProxyControl(fleet) as control:
        return _locust(fleet, scenario, args, fleet.address, control.address)


def _locust(rig: Any, scenario: Scenario, args: argparse.Namespace, host: str, control: str) -> int:
    """Locust on the rig until it exits (or Ctrl-C): the users call ``host``, the page and
    the result set ask ``control``; a target that exits is started again."""
    profile = scenario.profile
    command = [
        sys.executable, "-m", "locust",
        "-f", args.locustfile,
        "--host", host,
        "--lbbench-control", control,
        "--lbbench-profile", rig.profile_path,
        "--lbbench-out", args.out,
        "--web-host", "127.0.0.1",
        *args.passthrough_args,
        *_users_for(scenario, args),
    ]  # fmt: skip
    environment = {**os.environ, "LBBENCH_PACING_S": repr(args.pacing_s)}
    through = f" through {scenario.proxy}" if scenario.proxy else ""
    print(
        f"lbbench: rig up (Locust calls {host}{through}, control {control}, "
        f"{len(profile.targets)} targets of {profile.name}); starting Locust",
        file=sys.stderr,
        flush=True,
    )
    # Locust in a session of its own: a Ctrl-C reaches only us, and we stop
    # Locust with SIGTERM, its clean shutdown (it writes its result set).
    # A SIGINT straight into Locust lands in whichever greenlet runs at
    # that moment, and now and then it then took Locust over 30 s to quit.
    locust = subprocess.Popen(
        command,
        env=environment,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=quit_with_parent if sys.platform.startswith("linux") else None,
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _supervise(rig, locust, args.restart_s)
    except KeyboardInterrupt:
        locust.send_signal(signal.SIGTERM)
        code = locust.wait(timeout=60)
        print(f"lbbench: Locust stopped (exit code {code}); stopping the rig", file=sys.stderr)
        return code if code >= 0 else 128 - code  # killed by a signal: the shell's 128 + N
    finally:
        signal.signal(signal.SIGTERM, previous)
        if locust.poll() is None:
            locust.kill()
            locust.wait(timeout=10)


SINGLE = {"targets": "--targets", "strategy": "--strategy", "failover": "--failover",
          "option": "--option", "deadline": "--deadline"}  # fmt: skip


def _scenario(args: argparse.Namespace) -> Scenario:
    """The rig's scenario: a suite's (``--suite``, ``--scenario``) or the flags'."""
    if args.suite is None:
        if args.scenario is not None:
            raise ConfigError("--scenario", "goes with --suite")
        profile = load_profile(args.targets or "heterogeneous")
        strategy = args.strategy or DEFAULT_STRATEGY
        return scenario_from_flags(args, profile, LoadSpec(), strategy, name="locust")
    refused = [flag for name, flag in SINGLE.items() if getattr(args, name) is not None]
    if refused:
        raise ConfigError(refused[0], "does not apply with --suite, whose scenario says it")
    suite = load_suite(args.suite, seed=args.seed)
    scenarios = suite.scenarios
    chosen = args.scenario or "1"
    if chosen.isdigit() and 1 <= int(chosen) <= len(scenarios):
        scenario = scenarios[int(chosen) - 1]
    else:
        named = [s for s in scenarios if s.name == chosen]
        if not named:
            known = "; ".join(f"{i + 1}: {s.name}" for i, s in enumerate(scenarios))
            raise ConfigError("--scenario", f"no scenario {chosen!r} in {suite.name} ({known})")
        scenario = named[0]
    settings = parse_settings(args.set or [])
    return scenario.with_settings(settings) if settings else scenario


def _users_for(scenario: Scenario, args: argparse.Namespace) -> list[str]:
    """Headless with a suite and no -u: as many paced users as the scenario's rate asks for,
    for its duration."""
    given = set(args.passthrough_args)
    if args.suite is None or "--headless" not in given or given & {"-u", "--users"}:
        return []
    users = max(1, math.ceil(scenario.load.rate * args.pacing_s))
    extra = ["-u", str(users), "-r", str(users)]
    if not given & {"-t", "--run-time"}:
        extra += ["-t", f"{scenario.load.duration_s:g}s"]
    return extra


def _interrupt(*_: Any) -> None:
    """SIGTERM to ``lbbench locust`` stops it as a Ctrl-C does."""
    raise KeyboardInterrupt


def _supervise(rig: Any, locust: subprocess.Popen, restart_s: float) -> int:
    """Wait for Locust; restart any target that exited, ``restart_s`` after it did."""
    down_since: dict[str, float] = {}
    while True:
        code = locust.poll()
        if code is not None:
            return code if code >= 0 else 128 - code
        proxy = getattr(rig, "proxy", None)  # a proxy under test: the run cannot go on
        if proxy is not None and proxy.child.popen.poll() is not None:
            print(
                f"lbbench: {proxy.plan.proxy} exited ({proxy.child.last_words()}); stopping Locust",
                file=sys.stderr,
            )
            locust.send_signal(signal.SIGTERM)
            locust.wait(timeout=60)
            return 1
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
