"""The live ZeroMQ rig: a balancer and the profile's targets as real processes on loopback.

Each trial gets fresh processes (a balancer and one process per target,
all on 127.0.0.1 with ports chosen by the OS), so no state leaks between
trials. Readiness is polled through the balancer's control socket with a
deadline. Faults follow the profile's schedule on the rig's clock: a crash
really kills the target process and the rig starts it again when the
fault ends. Any process that dies unplanned, or a generator that could not
hold its schedule, makes the trial invalid, and the result says so. Every
process started is stopped, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq

from lbbench.balancer.limits import DEFAULT_MAX_HELD_BYTES, DEFAULT_MAX_MESSAGE_SIZE
from lbbench.core.faults import Fault
from lbbench.errors import ConfigError
from lbbench.results.trial import RouterView, trial_result
from lbbench.rigs.base import Progress, drive
from lbbench.rigs.calibration import calibration_scenario, rig_latency
from lbbench.rigs.loadgen import LoadRun
from lbbench.rigs.machine import MachineWatch
from lbbench.rigs.process import (
    READY_TIMEOUT_S,
    ChildProcess,
    RigError,
    note_unplanned_exits,
    profile_file,
)
from lbbench.scenario.scenario import Scenario, is_grpc
from lbbench.security import SERVER, PeerKeys

ENVELOPE_ALLOWANCE = 4096  # routing frames, key and headers around a payload


def message_size_args(payload_bytes: int) -> list[str]:
    """``lbbench balancer`` flags that let a scenario's payloads through (bigger than the
    default maximum message size: raise it, and what the balancer may hold with it)."""
    largest = payload_bytes + ENVELOPE_ALLOWANCE
    if largest <= DEFAULT_MAX_MESSAGE_SIZE:
        return []
    held = max(DEFAULT_MAX_HELD_BYTES, 64 * largest)
    return ["--max-message-size", str(largest), "--max-held", str(held)]


class LiveProcesses:
    """A balancer and the profile's targets, as real processes on loopback."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        balancer_args: tuple[str, ...] = (),
        balancer_module: str = "lbbench",
        curve: str | None = None,
    ) -> None:
        """``balancer_args``: more flags for ``lbbench balancer``; ``balancer_module``: the
        module run as ``python -m`` with them (tests run a modified balancer); ``curve``:
        a folder of keys from ``lbbench keys``, for CurveZMQ on every socket."""
        self.scenario = scenario
        self.seed = seed
        self._logs = tempfile.TemporaryDirectory(prefix="lbbench-rig-")
        self.log_dir = Path(self._logs.name)
        self.targets: dict[str, ChildProcess] = {}
        self.gateway: ChildProcess | None = None
        self.planned_exits: set[str] = set()
        self.problems: list[str] = []
        self.failure: str | None = None
        self.curve = curve
        self._client_keys = PeerKeys.from_folder(curve, "client") if curve else None
        self._context = zmq.Context()
        self._control: zmq.Socket | None = None
        self.profile_path = profile_file(scenario.profile, self.log_dir)
        args = [
            "balancer",
            "--frontend", "tcp://127.0.0.1:*",
            "--backend", "tcp://127.0.0.1:*",
            "--control", "tcp://127.0.0.1:*",
            # the scenario's every setting, resolved, as the result records them: the
            # balancer builds the very configuration the simulator does from them
            "--settings-json", json.dumps(scenario.resolved_settings()),
            "--seed", str(seed),
            "--targets", self.profile_path,
            "--announce",
        ]  # fmt: skip
        args += message_size_args(scenario.load.payload_bytes)
        if curve:
            args += ["--curve-secret", str(Path(curve) / f"{SERVER}.key_secret")]
        args += list(balancer_args)
        self.balancer = ChildProcess(
            "balancer", args, self.log_dir, announce=True, module=balancer_module
        )
        try:
            line = self.balancer.read_line(READY_TIMEOUT_S)
            self.endpoints = json.loads(line)["balancer"]
            for spec in scenario.profile.targets:
                self._start_target(spec.id)
        except BaseException:
            self.close()
            raise

    @property
    def frontend(self) -> str:
        return self.endpoints["frontend"]

    def _start_target(self, target_id: str) -> None:
        args = ["target", "--id", target_id, "--backend", self.endpoints["backend"]]
        args += ["--seed", str(self.seed), "--targets", self.profile_path]
        if self.curve:
            folder = Path(self.curve)
            args += ["--curve-secret", str(folder / "target.key_secret")]
            args += ["--curve-server", str(folder / f"{SERVER}.key")]
        self.targets[target_id] = ChildProcess(f"target-{target_id}", args, self.log_dir)

    def start_gateway(self) -> str:
        """Start ``lbbench gateway`` into this rig's balancer; its gRPC address."""
        args = ["gateway", "--listen", "127.0.0.1:0", "--balancer", self.frontend, "--announce"]
        self.gateway = ChildProcess("gateway", args, self.log_dir, announce=True)
        return json.loads(self.gateway.read_line(READY_TIMEOUT_S))["gateway"]

    def restart_target(self, target_id: str) -> None:
        """Start a target again after its process exited (a crash)."""
        self.targets[target_id].stop()
        self._start_target(target_id)

    def control(self, request: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
        if self._control is None:
            sock = self._context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            if self._client_keys is not None:
                self._client_keys.connect(sock)
            sock.connect(self.endpoints["control"])
            self._control = sock
        sock = self._control
        sock.send_json(request)
        if not sock.poll(int(timeout_s * 1e3)):
            sock.close(0)  # a REQ socket that missed its reply is stuck: start over
            self._control = None
            raise RigError("balancer", f"no answer to {request.get('cmd')!r} within {timeout_s} s")
        return sock.recv_json()

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Poll the balancer until every target has joined and is healthy."""
        wanted = {spec.id for spec in self.scenario.profile.targets}
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.control({"cmd": "stats"})
            joined = {b["id"] for b in stats["backends"] if b["health"] == "healthy"}
            if wanted <= joined:
                return
            for name, process in [("balancer", self.balancer), *self.targets.items()]:
                if process.popen.poll() is not None:
                    raise RigError(name, f"exited while starting: {process.last_words()}")
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(wanted - joined))
                raise RigError("rig", f"targets not ready after {timeout_s:g} s: {missing}")
            time.sleep(0.02)

    def inject(self, fault: Fault) -> None:
        if fault.kind == "crash":
            self.planned_exits.add(fault.target)
        answer = self.control({"cmd": "fault", "target": fault.target, **fault.command()})
        if not answer.get("ok"):
            self.problems.append(f"fault on {fault.target} not injected: {answer.get('error')}")

    def end(self, fault: Fault) -> None:
        if fault.kind == "crash":
            process = self.targets[fault.target]
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=2.0)
            process.stop()
            self.planned_exits.discard(fault.target)
            self._start_target(fault.target)
        else:
            self.control({"cmd": "fault", "target": fault.target, **fault.end_command()})

    def check_processes(self, elapsed: float) -> None:
        if self.balancer.popen.poll() is not None and "balancer" not in self.planned_exits:
            self.planned_exits.add("balancer")
            code = self.balancer.popen.returncode
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            self.failure = (
                f"the balancer exited unplanned ({how}) at {elapsed:.2f} s: "
                f"{self.balancer.last_words()}"
            )
        note_unplanned_exits(self.targets, self.planned_exits, self.problems, elapsed)

    def close(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        for process in self.targets.values():
            process.stop()
        self.balancer.stop()
        if self._control is not None:
            self._control.close(0)
        self._context.term()
        self._logs.cleanup()

    def __enter__(self) -> LiveProcesses:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def check_live_limits(scenario: Scenario) -> None:
    """Refuse, in one line and before anything starts, what the live rigs do not run yet
    (the simulator does) rather than run something else under its name."""
    if scenario.balancers > 1:
        raise ConfigError(
            "balancers",
            f"{scenario.balancers} balancers: the simulator runs many balancers "
            "(lbbench sim); the live rig runs one",
        )
    if not is_grpc(scenario.strategy) and scenario.router_config().view == "reports":
        raise ConfigError(
            "view",
            "reports: the live targets do not report their load yet; the simulator "
            "does (lbbench sim)",
        )


class LiveRig:
    """Trials on real processes: the ZeroMQ balancer, or grpcio's policies for ``grpc:``.

    ``curve``: a folder of keys from ``lbbench keys``: every socket of the rig
    (clients, targets, control) then speaks CurveZMQ (``lbbench run --curve``).
    """

    simulated = False

    def __init__(self, curve: str | None = None) -> None:
        self.curve = curve

    def check(self, scenario: Scenario) -> None:
        check_live_limits(scenario)
        if scenario.proxy:
            from lbbench.proxies.rig import ProxyRig

            ProxyRig().check(scenario)
        elif is_grpc(scenario.strategy):
            from lbbench.rpc.rig import GrpcRig

            GrpcRig().check(scenario)
        else:
            scenario.router_config()

    def calibrate(self, scenario: Scenario) -> dict[str, Any]:
        """The rig's own latency under ``scenario``'s load, to zero-work targets."""
        try:
            return rig_latency(self.run_trial(calibration_scenario(scenario), 0))
        except RigError as error:  # reported, and the trials still run
            return {"valid": False, "problems": [f"rig calibration failed: {error}"]}

    def run_trial(
        self, scenario: Scenario, index: int, progress: Progress | None = None
    ) -> dict[str, Any]:
        """One trial on fresh processes; its result (see README, "Result files")."""
        if scenario.proxy:
            from lbbench.proxies.rig import ProxyRig

            return ProxyRig().run_trial(scenario, index, progress)
        if is_grpc(scenario.strategy):
            from lbbench.rpc.rig import GrpcRig

            return GrpcRig().run_trial(scenario, index, progress)
        seed = scenario.seed + index
        with LiveProcesses(scenario, seed, curve=self.curve) as rig:
            rig.wait_ready()
            generator = LoadRun(scenario.load, rig.frontend, seed, curve=self.curve)
            start = generator.start_at
            samples: list[tuple[float, dict[str, int]]] = []
            last: list[dict[str, Any]] = []  # the latest stats, should the balancer die

            def sample() -> None:
                with contextlib.suppress(RigError):
                    stats = rig.control({"cmd": "stats"}, timeout_s=1.0)
                    samples.append((stats["now"], {b["id"]: b["sent"] for b in stats["backends"]}))
                    last[:] = [stats]

            watch = MachineWatch()
            report, failure = drive(scenario, rig, generator, progress, sample)
            machine, busy = watch.finish()
            problems = report.problems + rig.problems + busy
            events: list[dict[str, Any]] = []
            try:
                final = rig.control({"cmd": "stats"})
                events = rig.control({"cmd": "events"})["events"]
            except RigError as error:
                # The balancer is dead or wedged: count what its last stats said.
                failure = failure or str(error)
                final = last[0] if last else {"backends": [], "stats": {}}
                problems.append("the balancer's counts are from its last stats before it died")
            # A generator that died took its counts with it; the balancer's tell how
            # many requests it sent (less any the dead balancer never reported).
            unaccounted = max(0, final["stats"].get("requests", 0) - report.recorder.sent)
            if failure is not None and unaccounted:
                problems.append(
                    f"the balancer received {unaccounted} requests that no surviving "
                    "generator accounts for: their outcomes are unknown"
                )
        view = RouterView.from_snapshot(final)
        return trial_result(
            scenario, seed, start, report, view, events, samples, problems, failure, unaccounted,
            machine,
        )  # fmt: skip
