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
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq

from lbbench.balancer.control import check_live
from lbbench.balancer.limits import DEFAULT_MAX_HELD_BYTES, DEFAULT_MAX_MESSAGE_SIZE
from lbbench.core.faults import Fault
from lbbench.errors import ConfigError
from lbbench.results.trial import RouterView, shared_fleet, trial_result
from lbbench.rigs.base import Progress, drive
from lbbench.rigs.calibration import calibration_scenario, in_trial_overhead, rig_latency
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
    """The scenario's balancers and the profile's targets, as real processes on loopback.

    ``balancers = N``: N balancer processes share the targets (client-side balancing:
    each its own state, its own random stream), every target joins all of them, and
    each request goes to one of them (``LoadRun``'s split). The first is ``balancer``.
    """

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
        self._controls: dict[int, zmq.Socket] = {}
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
        #: the balancers, in their order (index i draws router stream i, as simulated)
        self.balancers: list[ChildProcess] = []
        self.all_endpoints: list[dict[str, str]] = []
        try:
            for index in range(scenario.balancers):  # all start at once, then announce
                name = "balancer" if index == 0 else f"balancer-{index}"
                self.balancers.append(
                    ChildProcess(
                        name, [*args, "--index", str(index)], self.log_dir, announce=True,
                        module=balancer_module,
                    )
                )  # fmt: skip
            for process in self.balancers:
                line = process.read_line(READY_TIMEOUT_S)
                self.all_endpoints.append(json.loads(line)["balancer"])
            for spec in scenario.profile.targets:
                self._start_target(spec.id)
        except BaseException:
            self.close()
            raise

    @property
    def balancer(self) -> ChildProcess:
        """The first balancer (the only one, unless the scenario shares the fleet)."""
        return self.balancers[0]

    @property
    def endpoints(self) -> dict[str, str]:
        return self.all_endpoints[0]

    @property
    def frontend(self) -> str:
        return self.endpoints["frontend"]

    @property
    def frontends(self) -> list[str]:
        return [e["frontend"] for e in self.all_endpoints]

    def _start_target(self, target_id: str) -> None:
        backends = ",".join(e["backend"] for e in self.all_endpoints)
        args = ["target", "--id", target_id, "--backend", backends]
        args += ["--seed", str(self.seed), "--targets", self.profile_path]
        args += ["--tally", str(self._tally_file(target_id))]
        view = self.scenario.router_config()
        if view.view == "reports":  # the targets post their load, as simulated
            args += ["--report-every", repr(view.view_period_s)]
            args += ["--report-delay", repr(view.view_delay_s)]
        if self.curve:
            folder = Path(self.curve)
            args += ["--curve-secret", str(folder / "target.key_secret")]
            args += ["--curve-server", str(folder / f"{SERVER}.key")]
        self.targets[target_id] = ChildProcess(f"target-{target_id}", args, self.log_dir)

    def _tally_file(self, target_id: str) -> Path:
        return self.log_dir / f"target-{target_id}.tally"

    def stop_targets(self) -> tuple[int, float] | None:
        """Stop the targets (planned) and sum what they tallied: the requests they answered
        for the balancers and the seconds those spent in them; None if one could not say
        (wrote nothing, or not a tally). A process that crashed or was killed wrote
        nothing: the sum then falls short of the requests answered."""
        answered, residence = 0, 0.0
        complete = True
        self._signal_targets()
        for target_id, process in self.targets.items():
            self.planned_exits.add(target_id)
            process.stop()  # (killed, if it did not stop in time: then it wrote nothing)
            try:
                lines = self._tally_file(target_id).read_text().splitlines()
            except OSError:
                lines = []
            complete = complete and bool(lines)
            for line in lines:  # one per process: a target restarted after a crash has two
                try:
                    tally = json.loads(line)
                    answered += int(tally["answered"])
                    residence += float(tally["residence_s"])
                except (ValueError, KeyError, TypeError):
                    complete = False
        return (answered, residence) if complete else None

    def _signal_targets(self, grace_s: float = 3.0) -> None:
        """Ask every target to stop at once and wait for them (each takes a few tens of ms:
        one after another, that was a third of a second of every trial). One signal each:
        a second one would find a target past its handler, writing its tally."""
        running = [p.popen for p in self.targets.values() if p.popen.poll() is None]
        for popen in running:
            popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for popen in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))

    def start_gateway(self) -> str:
        """Start ``lbbench gateway`` into this rig's balancer; its gRPC address."""
        args = ["gateway", "--listen", "127.0.0.1:0", "--balancer", self.frontend, "--announce"]
        self.gateway = ChildProcess("gateway", args, self.log_dir, announce=True)
        return json.loads(self.gateway.read_line(READY_TIMEOUT_S))["gateway"]

    def restart_target(self, target_id: str) -> None:
        """Start a target again after its process exited (a crash)."""
        self.targets[target_id].stop()
        self._start_target(target_id)

    def control(
        self, request: dict[str, Any], timeout_s: float = 5.0, index: int = 0
    ) -> dict[str, Any]:
        """Ask balancer ``index`` (the first by default) over its control socket."""
        sock = self._controls.get(index)
        if sock is None:
            sock = self._context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            if self._client_keys is not None:
                self._client_keys.connect(sock)
            sock.connect(self.all_endpoints[index]["control"])
            self._controls[index] = sock
        sock.send_json(request)
        if not sock.poll(int(timeout_s * 1e3)):
            sock.close(0)  # a REQ socket that missed its reply is stuck: start over
            del self._controls[index]
            name = self.balancers[index].name
            raise RigError(name, f"no answer to {request.get('cmd')!r} within {timeout_s} s")
        answer: dict[str, Any] = sock.recv_json()  # type: ignore[assignment]
        return answer

    def control_all(self, request: dict[str, Any], timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The same request to every balancer; their answers in their order."""
        return [self.control(request, timeout_s, i) for i in range(len(self.balancers))]

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Poll the balancers until every target has joined each of them and is healthy."""
        wanted = {spec.id for spec in self.scenario.profile.targets}
        deadline = time.monotonic() + timeout_s
        for index, balancer in enumerate(self.balancers):
            while True:
                stats = self.control({"cmd": "stats"}, index=index)
                joined = {b["id"] for b in stats["backends"] if b["health"] == "healthy"}
                if wanted <= joined:
                    break
                for process in [*self.balancers, *self.targets.values()]:
                    if process.popen.poll() is not None:
                        raise RigError(
                            process.name, f"exited while starting: {process.last_words()}"
                        )
                if time.monotonic() > deadline:
                    missing = ", ".join(sorted(wanted - joined))
                    raise RigError(
                        "rig", f"targets not ready after {timeout_s:g} s at {balancer.name}: "
                        f"{missing}",
                    )  # fmt: skip
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
        for balancer in self.balancers:
            if balancer.popen.poll() is None or balancer.name in self.planned_exits:
                continue
            self.planned_exits.add(balancer.name)
            code = balancer.popen.returncode
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            self.failure = self.failure or (
                f"the {balancer.name.replace('-', ' ')} exited unplanned ({how}) at "
                f"{elapsed:.2f} s: {balancer.last_words()}"
            )
        note_unplanned_exits(self.targets, self.planned_exits, self.problems, elapsed)

    def close(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        self._signal_targets()
        for process in self.targets.values():
            process.stop()
        for balancer in self.balancers:
            balancer.stop()
        for sock in self._controls.values():
            sock.close(0)
        self._context.term()
        self._logs.cleanup()

    def __enter__(self) -> LiveProcesses:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def check_live_limits(scenario: Scenario, runs_one: str | None = None) -> None:
    """Refuse, in one line and before anything starts, what the live rigs do not run yet
    (the simulator does) rather than run something else under its name.

    ``runs_one`` names a caller that drives one balancer only (``lbbench locust``: its
    users and its page go through one); the live rig runs several (scenarios check
    that only lbbench's own balancer comes in many).
    """
    if scenario.balancers > 1 and runs_one is not None:
        raise ConfigError(
            "balancers",
            f"{scenario.balancers} balancers: not with {runs_one} (lbbench run and "
            "lbbench sim run many)",
        )
    if not is_grpc(scenario.strategy) and not scenario.proxy:
        check_live(scenario.router_config())


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
            generator = LoadRun(
                scenario.load, rig.frontends, seed, curve=self.curve,
                split=scenario.balancers_split,
            )  # fmt: skip
            start = generator.start_at
            samples: list[tuple[float, dict[str, int]]] = []
            last: list[dict[str, Any]] = []  # the latest stats, should a balancer die

            def sample() -> None:
                with contextlib.suppress(RigError):
                    every = rig.control_all({"cmd": "stats"}, timeout_s=1.0)
                    sent: dict[str, int] = {}
                    for stats in every:  # the fleet's attempts: every balancer's
                        for b in stats["backends"]:
                            sent[b["id"]] = sent.get(b["id"], 0) + b["sent"]
                    samples.append((every[0]["now"], sent))
                    last[:] = every

            watch = MachineWatch()
            report, failure = drive(scenario, rig, generator, progress, sample)
            machine, busy = watch.finish()
            problems = report.problems + rig.problems + busy
            logs: list[list[dict[str, Any]]] = []
            try:
                finals = rig.control_all({"cmd": "stats"})
                logs = [answer["events"] for answer in rig.control_all({"cmd": "events"})]
            except RigError as error:
                # A balancer is dead or wedged: count what the last stats said.
                failure = failure or str(error)
                finals = last or [{"backends": [], "stats": {}}]
                logs = [[] for _ in finals]
                problems.append("the balancers' counts are from their last stats before one died")
            attempts = sum(b["sent"] for f in finals for b in f["backends"])
            overhead = in_trial_overhead(report.recorder, attempts, rig.stop_targets())
            # A generator that died took its counts with it; the balancers' tell how
            # many requests it sent (less any a dead balancer never reported).
            received = sum(f["stats"].get("requests", 0) for f in finals)
            unaccounted = max(0, received - report.recorder.sent)
            if failure is not None and unaccounted:
                problems.append(
                    f"the balancers received {unaccounted} requests that no surviving "
                    "generator accounts for: their outcomes are unknown"
                )
        part = None
        if len(finals) == 1:
            view = RouterView.from_snapshot(finals[0])
            events = logs[0] if logs else []
        else:  # the fleet's figures over every balancer, each one's own beside them
            view, events, part = shared_fleet(scenario, finals, logs)
        result = trial_result(
            scenario, seed, start, report, view, events, samples, problems, failure, unaccounted,
            machine,
        )  # fmt: skip
        result["rig_overhead"] = overhead
        if part is not None:
            result["balancers"] = part
        return result
