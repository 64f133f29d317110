"""Runs one scenario on the live rig: start it, drive load, inject faults, collect.

Each trial gets a fresh rig (a balancer process and one process per
target, all on 127.0.0.1 with ports chosen by the OS), so no state leaks
between trials. Readiness is polled through the balancer's control socket
with a deadline. Faults follow the profile's schedule on the runner's
clock: a crash really kills the target process and the runner starts it
again when the fault ends. Any process that dies unplanned, or a generator
that could not hold its schedule, makes the trial invalid, and the result
says so. Every process started is stopped, whatever happens.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from lbbench.core.config import FailoverConfig, RouterConfig
from lbbench.core.faults import Fault
from lbbench.core.strategies import STRATEGIES
from lbbench.errors import ConfigError, LbbenchError
from lbbench.loadgen import LoadRun, LoadSpec, read_line
from lbbench.metrics import failover_timing, fairness
from lbbench.profiles import FleetProfile
from lbbench.recorder import Recorder, decode, encode, new_histogram, summarize
from lbbench.rpc.policies import check_modes, is_grpc, policy_of
from lbbench.vocabulary import OUTCOMES

SAMPLE_EVERY_S = 0.05
READY_TIMEOUT_S = 20.0


class RigError(LbbenchError):
    """The rig could not be brought up (a process died or never got ready)."""


@dataclass(frozen=True)
class Scenario:
    """A fleet profile, a strategy, a failover mode, a load, a seed and a number of trials."""

    name: str
    profile: FleetProfile
    strategy: str
    failover: tuple[str, ...] = ("fail_fast",)
    load: LoadSpec = field(default_factory=LoadSpec)
    strategy_options: tuple[tuple[str, Any], ...] = ()
    seed: int = 1
    trials: int = 1
    deadline_s: float = 1.0

    def validate(self) -> None:
        """Raise ConfigError on bad input, before anything starts."""
        if is_grpc(self.strategy):
            policy_of(self.strategy)
            check_modes(self.failover)
            if self.strategy_options:
                raise ConfigError("--option", "grpc: policies take no lbbench strategy options")
        else:
            self.router_config()

    def router_config(self) -> RouterConfig:
        """Validates the routing part (raises ConfigError on bad input)."""
        return RouterConfig(
            strategy=self.strategy,
            strategy_options=dict(self.strategy_options),
            failover=FailoverConfig(modes=self.failover),
            deadline_s=self.deadline_s,
        )

    @property
    def key(self) -> str:
        """What identifies the scenario across result sets (for compare)."""
        load = self.load
        options = ",".join(f"{k}={v}" for k, v in self.strategy_options)
        strategy = f"{self.strategy}({options})" if options else self.strategy
        return (
            f"{self.profile.name}/{strategy}/{'+'.join(self.failover)}/"
            f"{load.mode}-{load.arrival}-{load.shape}-{load.rate:g}rps-{load.duration_s:g}s"
        )

    def expected_shares(self) -> dict[str, float]:
        # grpcio's policies know nothing of lbbench weights: even shares
        weighted = not is_grpc(self.strategy) and STRATEGIES[self.strategy].weighted
        return self.profile.expected_shares(weighted)


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the runner dies, so no process outlives a run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ChildProcess:
    def __init__(self, name: str, args: list[str], log_dir: Path, announce: bool = False) -> None:
        self.name = name
        self.args = args
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "lbbench", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if announce else subprocess.DEVNULL,
            stderr=self.log,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def read_line(self, timeout_s: float) -> str:
        line = read_line(self.popen, time.monotonic() + timeout_s)
        if line is None:
            raise RigError(self.name, f"did not start: {self.last_words()}")
        return line

    def last_words(self) -> str:
        self.log.flush()
        try:
            lines = Path(self.log.name).read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        code = self.popen.poll()
        state = f"exit code {code}" if code is not None else "still running"
        return f"{state}; {lines[-1] if lines else 'no output'}"

    def stop(self, grace_s: float = 3.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5.0)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.log.close()


def note_unplanned_exits(
    targets: dict[str, ChildProcess], planned: set[str], problems: list[str], elapsed: float
) -> None:
    """A target process that ended without a crash fault makes the trial invalid."""
    for target_id, process in targets.items():
        if process.popen.poll() is not None and target_id not in planned:
            planned.add(target_id)
            problems.append(
                f"target {target_id} exited unplanned at {elapsed:.2f} s "
                f"(exit code {process.popen.returncode})"
            )


class Rig:
    """A balancer and the profile's targets, as real processes on loopback."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self._logs = tempfile.TemporaryDirectory(prefix="lbbench-rig-")
        self.log_dir = Path(self._logs.name)
        self.targets: dict[str, ChildProcess] = {}
        self.gateway: ChildProcess | None = None
        self.planned_exits: set[str] = set()
        self.problems: list[str] = []
        self._context = zmq.Context()
        self._control: zmq.Socket | None = None
        args = [
            "balancer",
            "--frontend", "tcp://127.0.0.1:*",
            "--backend", "tcp://127.0.0.1:*",
            "--control", "tcp://127.0.0.1:*",
            "--strategy", scenario.strategy,
            "--failover", ",".join(scenario.failover),
            "--deadline", str(scenario.deadline_s),
            "--seed", str(seed),
            "--announce",
        ]  # fmt: skip
        if scenario.profile.source:
            args += ["--targets", scenario.profile.source]
        for name, value in scenario.strategy_options:
            args += ["--option", f"{name}={json.dumps(value)}"]
        self.balancer = ChildProcess("balancer", args, self.log_dir, announce=True)
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
        profile = self.scenario.profile
        args = ["target", "--id", target_id, "--backend", self.endpoints["backend"]]
        args += ["--seed", str(self.seed)]
        if profile.source:
            args += ["--targets", profile.source]
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
            self.control({"cmd": "fault", "target": fault.target, "kind": "recover"})

    def check_processes(self, elapsed: float) -> None:
        if self.balancer.popen.poll() is not None and "balancer" not in self.planned_exits:
            self.planned_exits.add("balancer")
            self.problems.append(
                f"the balancer exited unplanned at {elapsed:.2f} s: {self.balancer.last_words()}"
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

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


Progress = Callable[[float], None]


def drive(
    scenario: Scenario,
    rig: Any,
    generator: LoadRun,
    progress: Progress | None,
    sample: Callable[[], None] | None = None,
) -> Any:
    """Run the load to its end: faults on schedule (``rig.inject``/``rig.end``),
    ``sample()`` every SAMPLE_EVERY_S, unplanned exits noted; the generator's report."""
    load = scenario.load
    start = generator.start_at
    schedule: list[tuple[float, str, Fault]] = []
    for fault in scenario.profile.faults:
        schedule.append((start + fault.at_s, "start", fault))
        if fault.end_s is not None:
            schedule.append((start + fault.end_s, "end", fault))
    schedule.sort(key=lambda item: item[0])
    give_up = start + load.duration_s + load.drain_s + 15.0
    next_sample = start
    while time.monotonic() < give_up:
        now = time.monotonic()
        if all(p.poll() is not None for p in generator.processes):
            break
        while schedule and schedule[0][0] <= now:
            _, what, fault = schedule.pop(0)
            (rig.inject if what == "start" else rig.end)(fault)
        if sample is not None and next_sample <= now <= start + load.duration_s + load.drain_s:
            sample()
            next_sample += SAMPLE_EVERY_S
        rig.check_processes(now - start)
        if progress is not None:
            progress(min(1.0, max(0.0, (now - start) / load.duration_s)))
        time.sleep(0.01)
    report = generator.wait(timeout_s=10.0)
    for _, what, fault in schedule:  # faults still due after the load ended
        if what == "end" and fault.kind == "crash":
            rig.planned_exits.add(fault.target)
    rig.check_processes(time.monotonic() - start)
    return report


def run_trial(scenario: Scenario, index: int, progress: Progress | None = None) -> dict[str, Any]:
    """One trial on a fresh rig; returns its result (see README, "Result files")."""
    if is_grpc(scenario.strategy):
        from lbbench.rpc.rig import run_grpc_trial

        return run_grpc_trial(scenario, index, progress)
    seed = scenario.seed + index
    with Rig(scenario, seed) as rig:
        rig.wait_ready()
        generator = LoadRun(scenario.load, rig.frontend, seed)
        start = generator.start_at
        samples: list[tuple[float, dict[str, int]]] = []

        def sample() -> None:
            with contextlib.suppress(RigError):
                stats = rig.control({"cmd": "stats"}, timeout_s=1.0)
                samples.append((stats["now"], {b["id"]: b["sent"] for b in stats["backends"]}))

        report = drive(scenario, rig, generator, progress, sample)
        final = rig.control({"cmd": "stats"})
        events = rig.control({"cmd": "events"})["events"]
        problems = report.problems + rig.problems
    return trial_result(scenario, seed, start, report, final, events, samples, problems)


def trial_result(
    scenario: Scenario,
    seed: int,
    start: float,
    report: Any,
    final: dict[str, Any],
    events: list[dict[str, Any]],
    samples: list[tuple[float, dict[str, int]]],
    problems: list[str],
) -> dict[str, Any]:
    """One trial's result from what the generator recorded and the router reported.

    ``samples`` are (time, {backend: attempts so far}) taken during the run;
    when they cover only some backends (the simulator's large fleets), the
    per-backend attempts timeline is left out and failover timing uses them
    as they are (their total stands for the whole fleet's).
    """
    recorder: Recorder = report.recorder
    duration = scenario.load.duration_s
    requests = {"sent": recorder.sent, **dict(recorder.outcomes), "lost": recorder.lost}
    expected = scenario.expected_shares()
    attempts = {b["id"]: b["sent"] for b in final["backends"]}
    by_id = {b["id"]: b for b in final["backends"]}
    total_attempts = sum(attempts.values()) or 1
    backends = []
    for spec in scenario.profile.targets:
        state = by_id.get(spec.id, {})
        backends.append(
            {
                "id": spec.id,
                "weight": spec.weight,
                "tier": spec.tier,
                "attempts": attempts.get(spec.id, 0),
                "share": attempts.get(spec.id, 0) / total_attempts,
                "expected_share": expected[spec.id],
                "served_ok": recorder.served_by.get(spec.id, 0),
                "errors": state.get("errors", 0),
                "timeouts": state.get("timeouts", 0),
            }
        )
    router_stats = final["stats"]
    faults = []
    for fault in scenario.profile.faults:
        timing = failover_timing(
            fault.target,
            start + fault.at_s,
            None if fault.end_s is None else start + fault.end_s,
            expected[fault.target],
            samples,
            events,
        )
        faults.append(
            {
                "target": fault.target,
                "kind": fault.kind,
                "at_s": fault.at_s,
                "duration_s": fault.duration_s,
                **timing,
            }
        )
    answered = recorder.answered
    return {
        "seed": seed,
        "valid": not problems,
        "problems": problems,
        "requests": requests,
        "throughput_rps": recorder.outcomes["ok"] / duration,
        "answered_rps": answered / duration,
        "error_rate": (answered - recorder.outcomes["ok"]) / answered if answered else 0.0,
        "latency_ms": {
            "corrected": summarize(recorder.corrected),
            "uncorrected": summarize(recorder.uncorrected),
        },
        "backends": backends,
        "fairness": fairness(attempts, expected),
        "failover": {
            "attempts": router_stats["attempts"],
            "retries": router_stats["retries"],
            "hedges": router_stats["hedges"],
            "hedge_wins": router_stats["hedge_wins"],
            "cancelled": router_stats["cancelled"],
            "ejections": router_stats["ejections"],
            "budget_exhausted": router_stats["budget_exhausted"],
            "faults": faults,
        },
        "strategy_status": final.get("strategy_status", {}),
        "generator": report.as_dict(),
        "events": [{**e, "at": e["at"] - start} for e in events if e["kind"] not in ("join",)],
        "timeline": {
            "step_s": 0.1,
            "outcomes": [
                [bucket * 0.1, *(recorder.timeline[bucket].get(s, 0) for s in OUTCOMES)]
                for bucket in sorted(recorder.timeline)
            ],
            "attempts": [
                [t - start, [sent.get(spec.id, 0) for spec in scenario.profile.targets]]
                for t, sent in samples
                if len(sent) == len(scenario.profile.targets)
            ],
        },
        "histograms": {
            "corrected": encode(recorder.corrected),
            "uncorrected": encode(recorder.uncorrected),
        },
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize_trials(scenario: Scenario, trials: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's summary over its trials, plus the per-trial samples."""
    corrected = new_histogram()
    uncorrected = new_histogram()
    for trial in trials:
        corrected.add(decode(trial["histograms"]["corrected"]))
        uncorrected.add(decode(trial["histograms"]["uncorrected"]))
    requests = {key: sum(t["requests"][key] for t in trials) for key in trials[0]["requests"]}
    attempts: dict[str, int] = {}
    for trial in trials:
        for backend in trial["backends"]:
            attempts[backend["id"]] = attempts.get(backend["id"], 0) + backend["attempts"]
    total = sum(attempts.values()) or 1
    backends = [
        {**b, "attempts": attempts[b["id"]], "share": attempts[b["id"]] / total}
        for b in trials[0]["backends"]
    ]
    faults = []
    for index, fault in enumerate(trials[0]["failover"]["faults"]):
        detections = [t["failover"]["faults"][index]["detection_s"] for t in trials]
        recoveries = [t["failover"]["faults"][index]["recovery_s"] for t in trials]
        faults.append(
            {
                **{k: fault[k] for k in ("target", "kind", "at_s", "duration_s")},
                "detection_s": _mean([d for d in detections if d is not None]),
                "recovery_s": _mean([r for r in recoveries if r is not None]),
                "detected_in": sum(d is not None for d in detections),
                "trials": len(trials),
            }
        )
    counters = ("attempts", "retries", "hedges", "hedge_wins", "cancelled", "ejections")
    summary = {
        "requests": requests,
        "throughput_rps": sum(t["throughput_rps"] for t in trials) / len(trials),
        "error_rate": sum(t["error_rate"] for t in trials) / len(trials),
        "latency_ms": {"corrected": summarize(corrected), "uncorrected": summarize(uncorrected)},
        "backends": backends,
        "fairness": fairness(attempts, scenario.expected_shares()),
        "failover": {
            **{c: sum(t["failover"][c] for t in trials) for c in counters},
            "faults": faults,
        },
        "histograms": {"corrected": encode(corrected), "uncorrected": encode(uncorrected)},
    }
    samples = {
        "throughput_rps": [t["throughput_rps"] for t in trials],
        "error_rate": [t["error_rate"] for t in trials],
        "jain": [t["fairness"]["jain"] for t in trials],
        "max_share_error": [t["fairness"]["max_share_error"] for t in trials],
    }
    for q in ("p50", "p90", "p99", "p99.9"):
        samples[f"{q}_ms"] = [t["latency_ms"]["corrected"][q] for t in trials]
    samples["detection_s"] = [
        f["detection_s"] for t in trials for f in t["failover"]["faults"] if f["detection_s"]
    ]
    samples["recovery_s"] = [
        f["recovery_s"] for t in trials for f in t["failover"]["faults"] if f["recovery_s"]
    ]
    return {"summary": summary, "samples": samples}


TrialRunner = Callable[[Scenario, int, Progress | None], dict[str, Any]]


def run_scenario(
    scenario: Scenario,
    progress: Callable[[int, float], None] | None = None,
    *,
    trial: TrialRunner = run_trial,
    simulated: bool = False,
) -> dict[str, Any]:
    """All trials of one scenario (live, or simulated with ``lbbench.sim``'s
    trial runner); its entry in a result set."""
    scenario.validate()
    trials = []
    for index in range(scenario.trials):
        tick = (lambda f, i=index: progress(i, f)) if progress else None
        trials.append(trial(scenario, index, tick))
    return scenario_entry(scenario, trials, simulated=simulated)


def scenario_entry(
    scenario: Scenario, trials: list[dict[str, Any]], *, simulated: bool = False
) -> dict[str, Any]:
    """A scenario's entry in a result set, from its trials (however they were run)."""
    problems = [f"trial {i + 1}: {p}" for i, t in enumerate(trials) for p in t["problems"]]
    return {
        "key": scenario.key,
        "name": scenario.name,
        "profile": scenario.profile.name,
        "profile_source": scenario.profile.source,
        "strategy": scenario.strategy,
        "strategy_options": dict(scenario.strategy_options),
        "failover": "+".join(scenario.failover),
        "deadline_s": scenario.deadline_s,
        "load": scenario.load.as_dict(),
        "faults": [
            {"target": f.target, "kind": f.kind, "at_s": f.at_s, "duration_s": f.duration_s}
            for f in scenario.profile.faults
        ],
        "seed": scenario.seed,
        "trials_run": scenario.trials,
        "simulated": simulated,
        "valid": not problems,
        "problems": problems,
        **summarize_trials(scenario, trials),
        "trials": trials,
    }
