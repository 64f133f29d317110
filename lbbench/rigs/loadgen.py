"""The load generator: open loop on a schedule (default) or closed loop, in child processes.

Open loop: requests go out at their intended times (constant spacing or
Poisson arrivals) whether or not earlier ones were answered; latency is
measured from the intended time (corrected) and from the actual send
(uncorrected). The generator watches itself: its send lag (actual minus
intended) is a histogram of its own, and a run in which it could not hold
the offered rate is marked invalid, loudly.

Closed loop (wrk2-style): N clients, each planning its sends at rate/N but
unable to send before its previous request is answered (plus an optional
think time), as Locust, wrk or any blocking client behave. A stall then
delays the sends themselves: the uncorrected view sees one slow request
per client and hides the rest (coordinated omission), the corrected view
counts every planned send from its planned time.

Each generator process owns one DEALER socket; several processes split the
rate and their recorders merge without loss.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from lbbench.core import streams
from lbbench.precise_wait import SocketWaiter, precise_timers
from lbbench.protocol import WORK_BYTES, payload_with_work
from lbbench.results.recorder import Recorder
from lbbench.rigs.process import STOP_CHECK_S, RigError, read_line
from lbbench.scenario.balancers import split_chooser
from lbbench.scenario.load import LoadSpec, key_sampler
from lbbench.security import PeerKeys
from lbbench.zmq_io import recv_frames, send_frames

MAX_LAG_P99_S = 0.005  # beyond this the schedule was not held
MIN_ACHIEVED = 0.95  # fraction of the offered rate that must really be sent

_SEQ = struct.Struct(">Q")


@dataclass
class GeneratorReport:
    recorder: Recorder
    offered_rate: float
    achieved_rate: float
    elapsed_s: float
    problems: list[str]

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        lag = self.recorder.send_lag
        return {
            "offered_rate": self.offered_rate,
            "achieved_rate": self.achieved_rate,
            "elapsed_s": self.elapsed_s,
            "send_lag_p99_ms": lag.get_value_at_percentile(99) / 1e3,
            "send_lag_max_ms": lag.get_max_value() / 1e3,
            "valid": self.valid,
            "problems": self.problems,
        }


def generate(
    spec: LoadSpec,
    frontend: str | Sequence[str],
    start_at: float | Callable[[], float],
    seed: int,
    stop: Callable[[], bool] = lambda: False,
    curve: str | None = None,
    work_seed: str | None = None,
    split: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Run one generator until its schedule is done and replies drained; a wire report.

    ``start_at`` is the monotonic time of the first intended send, or a
    function called once everything is set up that returns it (the
    handshake with the parent: no request is scheduled while this process
    was still importing, so its start-up cannot show up as send lag).
    ``stop()`` turning true (the rig's SIGTERM: a process it depends on
    died) ends the schedule at once: nothing more is sent, nothing more is
    awaited, and what was still in flight is counted as lost in the report.
    ``curve``: a folder of keys from ``lbbench keys`` (it connects as ``client``).
    ``work_seed``: each request's payload carries a service-time quantile
    drawn from this stream (``lbbench.protocol.work_of``), when the payload
    has room for it.
    ``frontend``: several balancers' (many balancers sharing the fleet, as clients
    each with their own do): one socket to each, every request sent through the one
    ``split`` = (``balancers_split``, its stream's seed) chooses, as the simulator does.
    """
    rng = random.Random(seed)
    pick_key = key_sampler(spec, rng)
    context = zmq.Context()
    keys = PeerKeys.from_folder(curve, "client") if curve else None
    socks = []
    for address in [frontend] if isinstance(frontend, str) else frontend:
        sock = context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1_000_000)
        sock.setsockopt(zmq.RCVHWM, 1_000_000)
        if keys is not None:
            keys.connect(sock)
        sock.connect(address)
        socks.append(sock)
    first = socks[0]
    choose = None
    if len(socks) > 1:
        how, split_seed = split or ("even", f"{seed}:split")
        choose = split_chooser(len(socks), how, random.Random(split_seed).random)
    waiter = SocketWaiter(socks)  # sends and reply stamps to the microsecond
    recorder = Recorder()
    pending: dict[int, tuple[float, float]] = {}
    payload = b"x" * spec.payload_bytes
    size = spec.payload_bytes
    work = random.Random(work_seed).random if work_seed and size >= WORK_BYTES else None
    monotonic = time.monotonic
    if callable(start_at):
        start_at = start_at()
    end_at = start_at + spec.duration_s
    drain_until = end_at + spec.drain_s
    stopped_at: float | None = None
    while monotonic() < start_at:
        time.sleep(min(0.001, max(0.0, start_at - monotonic())))

    late = [0]  # sends that went out after the run's end: the rate was not held

    def send(seq: int, intended: float) -> None:
        # The sequence number rides as an extra envelope frame before the
        # delimiter: the balancer echoes the envelope on every reply, whatever
        # its status, so each answer finds its request.
        tag = _SEQ.pack(seq)
        body = payload if work is None else payload_with_work(work(), size)
        frames = [tag, b"", pick_key(), body] if pick_key else [tag, b"", body]
        send_frames(first if choose is None else socks[choose()], frames)
        actual = monotonic()
        if actual > end_at + 0.005:
            late[0] += 1
        recorder.record_send(actual - intended)
        pending[seq] = (intended, actual)

    def receive(ready: list[zmq.Socket]) -> None:
        for sock in ready:
            receive_from(sock)

    def receive_from(sock: zmq.Socket) -> None:
        while True:
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            now = monotonic()
            if len(frames) != 5 or len(frames[0]) != 8 or frames[1]:
                recorder.unknown_replies += 1
                continue
            seq = _SEQ.unpack(frames[0])[0]
            times = pending.pop(seq, None)
            if times is None:
                recorder.unknown_replies += 1
                continue
            intended, actual = times
            recorder.record_reply(
                frames[2].decode(errors="replace"),
                frames[3].decode(errors="replace"),
                now - intended,
                now - actual,
                intended - start_at,
            )

    seq = 0
    if spec.mode == "open":
        next_at = start_at
        while True:
            now = monotonic()
            if stopped_at is None and stop():
                stopped_at = end_at = drain_until = now
            while next_at <= now and next_at < end_at:
                send(seq, next_at)
                seq += 1
                next_at += spec.next_gap(next_at - start_at, rng)
            now = monotonic()
            if next_at >= end_at:
                if not pending or now >= drain_until:
                    break
                wait = drain_until - now
            else:
                wait = next_at - now
            receive(waiter.wait(min(wait, STOP_CHECK_S)))
    else:
        # wrk2-style closed loop: each client plans its sends at rate/clients,
        # but cannot send before its previous answer is back. A stall delays
        # its next sends; corrected latency counts from the planned time.
        interval = spec.clients / spec.rate
        planned = [start_at + i * interval / spec.clients for i in range(spec.clients)]
        idle = list(range(spec.clients))
        owner: dict[int, int] = {}
        while True:
            now = monotonic()
            if stopped_at is None and stop():
                stopped_at = end_at = drain_until = now
            if now < end_at:
                still_idle = []
                for client in idle:
                    if planned[client] <= now:
                        owner[seq] = client
                        send(seq, planned[client])
                        planned[client] += interval + spec.think_s
                        seq += 1
                    else:
                        still_idle.append(client)
                idle = still_idle
            elif not pending or now >= drain_until:
                break
            soonest = min((planned[c] for c in idle), default=end_at)
            limit = min(soonest, end_at) if now < end_at else drain_until
            ready = waiter.wait(min(max(0.0, limit - now), STOP_CHECK_S))
            if ready:
                receive(ready)
                for number in [n for n in owner if n not in pending]:
                    idle.append(owner.pop(number))
    elapsed = max(1e-9, min(monotonic(), end_at) - start_at)
    recorder.lost = len(pending)
    for sock in socks:
        sock.close(0)
    context.term()
    return {
        "recorder": recorder.to_wire(),
        "elapsed_s": elapsed,
        "sent": recorder.sent,
        "late": late[0],
        "stopped_s": None if stopped_at is None else stopped_at - start_at,
    }


class LoadRun:
    """Generator processes started together; ``wait()`` merges their reports.

    Each generator is ``python -m lbbench.rigs.loadgen JOB`` taking its job as JSON
    and writing its report as JSON on stdout: a real process of its own
    (its own GIL and socket), independent of how the caller was started.
    """

    def __init__(
        self,
        spec: LoadSpec,
        frontend: str | Sequence[str],
        seed: int,
        lead_s: float = 0.1,
        ready_timeout_s: float = 30.0,
        grpc: dict[str, Any] | None = None,
        curve: str | None = None,
        split: str = "even",
    ) -> None:
        """``frontend`` is the balancer's, or several balancers' that share the fleet
        (each request to one of them, chosen under ``split``); with ``grpc`` (addresses, strategy,
        modes, deadline_s) the generators call the targets through a gRPC
        channel balanced by grpcio instead (``lbbench.rpc.loadgen``)."""
        self.spec = spec
        share = LoadSpec(**{**spec.as_dict(), "rate": spec.rate / spec.processes})
        if spec.mode == "closed":
            clients = max(1, spec.clients // spec.processes)
            share = LoadSpec(**{**share.as_dict(), "clients": clients})
        self.processes: list[subprocess.Popen[str]] = []
        self.stopped_s: float | None = None  # when stop_early() ended the load, if it did
        for index in range(spec.processes):
            # the first process's arrivals and work are the simulator's streams
            # (core.streams): one process, the same schedule and work per request
            job = {
                "spec": share.as_dict(),
                "frontend": frontend,
                "seed": streams.arrivals(seed, index),
                "work_seed": streams.work(seed, index),
                "split": [split, streams.balancer_split(seed, index)],
            }
            if curve:
                job["curve"] = curve
            if grpc is not None:
                job["grpc"] = grpc
            process = subprocess.Popen(
                [sys.executable, "-m", "lbbench.rigs.loadgen", json.dumps(job)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self.processes.append(process)
        # Handshake: every generator says "ready" once imported and connected;
        # then all get the same start time, ``lead_s`` ahead.
        deadline = time.monotonic() + ready_timeout_s
        for process in self.processes:
            line = read_line(process, deadline)
            if line is None or line.strip() != "ready":
                self.stop()
                raise RigError("generator", "a generator process did not get ready in time")
        self.start_at = time.monotonic() + lead_s
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"{self.start_at!r}\n")
            process.stdin.close()
            process.stdin = None  # written and closed: communicate() must leave it alone

    def wait(self, timeout_s: float) -> GeneratorReport:
        recorder = Recorder()
        problems: list[str] = []
        elapsed = 0.0
        late = 0
        stopped: list[float] = []
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                out, err = process.communicate(timeout=remaining)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                problems.append("a generator process did not report in time")
                continue
            if process.returncode != 0:
                last = (err.strip().splitlines() or ["no message"])[-1]
                problems.append(f"a generator process failed: {last}")
                continue
            data = json.loads(out.strip().splitlines()[-1])
            recorder.merge(Recorder.from_wire(data["recorder"]))
            elapsed = max(elapsed, data["elapsed_s"])
            late += data["late"]
            if data.get("stopped_s") is not None:
                stopped.append(data["stopped_s"])
        self.stop()
        spec = self.spec
        # Offered: what the schedule (with its Poisson draws) asked for; achieved:
        # what really went out before the end of the run (or before the rig
        # stopped it: then the rig's reason, not the rate, is the problem).
        span = min(stopped) if stopped else spec.duration_s
        offered = recorder.sent / max(span, 1e-9)
        achieved = (recorder.sent - late) / max(span, 1e-9)
        if stopped:
            self.stopped_s = min(stopped)
        elif spec.mode == "open":
            if achieved < MIN_ACHIEVED * offered:
                problems.append(
                    f"generator fell behind: sent {achieved:.0f}/s of {offered:.0f}/s offered"
                )
            lag_p99 = recorder.send_lag.get_value_at_percentile(99) / 1e6
            if lag_p99 > MAX_LAG_P99_S:
                problems.append(
                    f"generator fell behind its schedule: p99 send lag {lag_p99 * 1e3:.1f} ms "
                    f"> {MAX_LAG_P99_S * 1e3:.0f} ms"
                )
        if recorder.lost and stopped:
            problems.append(
                f"{recorder.lost} requests were in flight when the load was stopped at "
                f"{min(stopped):.2f} s: no answer (counted as lost)"
            )
        elif recorder.lost:
            problems.append(f"{recorder.lost} requests got no answer at all (lost)")
        if recorder.unknown_replies:
            problems.append(f"{recorder.unknown_replies} replies could not be matched")
        return GeneratorReport(recorder, offered, achieved, elapsed, problems)

    def stop_early(self) -> None:
        """End the load now (a process the trial depends on died): each generator stops
        sending and reports what it has, its requests in flight counted as lost."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def failed(self) -> str | None:
        """Why a generator process ended before reporting (killed, crashed), if one did."""
        for index, process in enumerate(self.processes):
            code = process.poll()
            if code not in (None, 0):
                how = f"signal {-code}" if code < 0 else f"exit status {code}"
                return f"generator process {index + 1} of {len(self.processes)} died ({how})"
        return None

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5.0)


def _prefer_the_generator() -> None:
    """Ask for a higher CPU priority: the measuring instrument should not wait its turn.

    On a small machine the rig's processes compete for the cores, and a
    generator that waits for the scheduler sends late (the lag check then
    marks the run invalid). Raising priority needs privileges; without
    them we carry on at normal priority and the lag check still guards.
    """
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)


def main() -> int:
    _prefer_the_generator()
    precise_timers()
    job = json.loads(sys.argv[1])

    def handshake() -> float:
        print("ready", flush=True)
        return float(sys.stdin.readline())

    # SIGTERM from the rig: stop sending and report (LoadRun.stop_early).
    stopped = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopped.__setitem__(0, True))

    if "grpc" in job:
        from lbbench.rpc.loadgen import generate_grpc

        report = generate_grpc(
            LoadSpec(**job["spec"]), job["grpc"], handshake, job["seed"], lambda: stopped[0]
        )
    else:
        report = generate(
            LoadSpec(**job["spec"]),
            job["frontend"],
            handshake,
            job["seed"],
            lambda: stopped[0],
            job.get("curve"),
            job.get("work_seed"),
            tuple(job["split"]) if "split" in job else None,
        )
    sys.stdout.write(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
