"""One trial of a ``grpc:<policy>`` scenario: gRPC targets, grpcio balancing, our generator.

The fleet is the profile's targets served over gRPC (``lbbench target
--grpc``, one process each on an OS-chosen loopback port); there is no
lbbench balancer: the generator's channel balances with grpcio's policy.
Faults follow the profile's schedule through each target's ``Fault``
RPC; a crash really ends the process and the target is started again on
the same port when the fault ends, so the channel reconnects to it.

grpcio tells its client nothing of its choices, so the per-backend view
is the client's: attempts are the answered calls per serving target
(retries inside grpcio are invisible), and shares over time come from the
answers' timeline, which is what failover timing (detection, recovery)
is computed from. There are no health events.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbbench.core.faults import Fault
from lbbench.results.recorder import TIMELINE_STEP_S, Recorder
from lbbench.results.trial import RouterView, trial_result
from lbbench.rigs.base import Progress, drive
from lbbench.rigs.loadgen import LoadRun
from lbbench.rigs.machine import MachineWatch
from lbbench.rigs.process import READY_TIMEOUT_S, ChildProcess, note_unplanned_exits, profile_file
from lbbench.rpc.policies import check_scenario, service_config
from lbbench.scenario.scenario import Scenario


def needs_h2(faults: Any) -> bool:
    """Whether a fault signals its errors other than as a gRPC status (grpcio's only way)."""
    return any(dict(f.params).get("signal", "grpc-status") != "grpc-status" for f in faults)


class GrpcProcesses:
    """The profile's targets as gRPC servers on loopback."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self._logs = tempfile.TemporaryDirectory(prefix="lbbench-grpc-")
        self.log_dir = Path(self._logs.name)
        self.profile_path = profile_file(scenario.profile, self.log_dir)
        self.targets: dict[str, ChildProcess] = {}
        self.ports: dict[str, int] = {}
        self.planned_exits: set[str] = set()
        self.problems: list[str] = []
        # grpcio answers every call with an HTTP 200: an error signalled otherwise (an
        # HTTP 503, a reset, a closed connection) needs the HTTP/2 server (rpc.h2target)
        self.h2 = needs_h2(scenario.profile.faults)
        try:
            for spec in scenario.profile.targets:
                self._start(spec.id, "127.0.0.1:0")
        except BaseException:
            self.close()
            raise

    def _start(self, target_id: str, bind: str) -> None:
        args = [
            "target", "--grpc", "--id", target_id, "--bind", bind, "--seed", str(self.seed),
            "--targets", self.profile_path, "--announce", *(["--h2"] if self.h2 else []),
        ]  # fmt: skip
        process = ChildProcess(f"target-{target_id}", args, self.log_dir, announce=True)
        self.targets[target_id] = process
        self.ports[target_id] = json.loads(process.read_line(READY_TIMEOUT_S))["port"]

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{self.ports[t.id]}" for t in self.scenario.profile.targets]

    def send_fault(self, target_id: str, command: dict[str, Any]) -> None:
        """A fault command to one target (its gRPC Fault call); a failure is a problem."""
        import grpc

        from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{self.ports[target_id]}") as channel:
            stub = lbbench_pb2_grpc.LbbenchStub(channel)
            request = lbbench_pb2.FaultRequest(command_json=json.dumps(command))
            try:
                reply = stub.Fault(request, timeout=5.0)
            except grpc.RpcError as error:
                if command["kind"] != "crash":  # a crash ends the call with the process
                    self.problems.append(f"fault on {target_id} not injected: {error.code()}")
                return
            if not reply.ok:
                self.problems.append(f"fault on {target_id} not injected: {reply.error}")

    def inject(self, fault: Fault) -> None:
        if fault.kind == "crash":
            self.planned_exits.add(fault.target)
        self.send_fault(fault.target, fault.command())

    def end(self, fault: Fault) -> None:
        if fault.kind == "crash":
            self.restart_target(fault.target)
        else:
            self.send_fault(fault.target, fault.end_command())

    def restart_target(self, target_id: str) -> None:
        """Start a crashed target again on its port (the proxy's config names the port)."""
        process = self.targets[target_id]
        with contextlib.suppress(Exception):
            process.popen.wait(timeout=2.0)
        process.stop()
        self._start(target_id, f"127.0.0.1:{self.ports[target_id]}")
        self.planned_exits.discard(target_id)

    failure: str | None = None  # no process here the trial cannot go on without

    def check_processes(self, elapsed: float) -> None:
        note_unplanned_exits(self.targets, self.planned_exits, self.problems, elapsed)

    def close(self) -> None:
        for process in self.targets.values():
            process.stop()
        self._logs.cleanup()

    def __enter__(self) -> GrpcProcesses:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def client_side_view(
    scenario: Scenario, recorder: Recorder, start: float, status: dict[str, Any] | None = None
) -> tuple[RouterView, list[tuple[float, dict[str, int]]]]:
    """What the balancing side did, as far as the client can tell, and shares over time;
    ``status``: what the balancer says of itself (grpcio's: its service config)."""
    ids = [t.id for t in scenario.profile.targets]
    errors = {t: recorder.errors_by.get(t, 0) for t in ids}
    view = RouterView(
        attempts={t: recorder.served_by.get(t, 0) + errors[t] for t in ids},
        errors=errors,
        strategy_status=status
        if status is not None
        else {"service_config": service_config(scenario.strategy, scenario.failover)},
    )
    view.counters = {"attempts": sum(view.attempts.values())}
    samples = []
    running: Counter[str] = Counter()
    buckets = recorder.timeline_backends
    for bucket in range(max(buckets, default=-1) + 1):
        running.update(buckets.get(bucket, {}))
        samples.append((start + (bucket + 1) * TIMELINE_STEP_S, {t: running[t] for t in ids}))
    return view, samples


class GrpcRig:
    """Trials of ``grpc:<policy>`` scenarios: gRPC targets, grpcio balancing, our generator."""

    simulated = False

    def check(self, scenario: Scenario) -> None:
        check_scenario(scenario.strategy, scenario.failover, scenario.strategy_options)

    def run_trial(self, scenario: Scenario, index: int, progress: Progress | None = None) -> dict:
        return grpc_trial(
            scenario,
            index,
            progress,
            GrpcProcesses,
            lambda rig: {
                "addresses": rig.addresses,
                "strategy": scenario.strategy,
                "modes": list(scenario.failover),
                "deadline_s": scenario.deadline_s,
            },
            lambda rig: {"service_config": service_config(scenario.strategy, scenario.failover)},
        )


def grpc_trial(
    scenario: Scenario,
    index: int,
    progress: Progress | None,
    fleet: Callable[[Scenario, int], Any],
    job: Callable[[Any], dict[str, Any]],
    said: Callable[[Any], dict[str, Any]],
) -> dict:
    """One trial through the gRPC generator: ``fleet`` starts what it calls (a
    GrpcProcesses), ``job`` is the generator's channel for it, ``said`` what the balancing
    side says of itself, read while it still runs."""
    seed = scenario.seed + index
    with fleet(scenario, seed) as rig:
        generator = LoadRun(scenario.load, "", seed, grpc=job(rig))
        start = generator.start_at
        watch = MachineWatch()
        report, failure = drive(scenario, rig, generator, progress)
        machine, busy = watch.finish()
        problems = report.problems + rig.problems + busy
        status = {**said(rig), "target_server": "h2" if rig.h2 else "grpcio"}
    view, samples = client_side_view(scenario, report.recorder, start, status)
    view.counters.update(status.get("failover_counts", {}))  # what a proxy counted itself
    return trial_result(
        scenario, seed, start, report, view, [], samples, problems, failure, None, machine
    )
