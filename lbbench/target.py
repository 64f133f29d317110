"""The mock target over ZeroMQ: a shell around the target model (``core.target_model``).

What the target does (its queue, latency model, faults, errors, probe
answers, heartbeat gating) is the model's, shared with the gRPC target and
the simulator; this moves messages in and out and owns the clock: one
event loop and a timer heap (no sleeping threads). Faults come from the
control channel (forwarded by the balancer) or, when run stand-alone with
``--schedule``, from the profile's fault schedule.

The target connects a DEALER to the balancer's backend socket with its id
as routing id, announces itself (READY) and heartbeats. Given several
balancers' backend addresses (balancers sharing the fleet, each routing
its own clients' requests), it joins each with a DEALER of its own and
answers each request on the socket it came in on: one DEALER connected to
several balancers would deal its replies out round robin, to balancers
that never sent them. Its queue, faults and heartbeat gating are one, as
one server's are; a fault any of them forwards is the target's. With
``bind`` it also serves clients directly on a ROUTER (same frames as the
balancer's frontend), for a no-balancer baseline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import math
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import zmq

from lbbench import protocol as p
from lbbench.core.faults import Fault, parse_command
from lbbench.core.service import Job
from lbbench.core.target_model import TargetModel
from lbbench.precise_wait import SocketWaiter, precise_timers
from lbbench.scenario.profiles import TargetSpec
from lbbench.security import PeerKeys, check_exposure
from lbbench.zmq_io import recv_frames, send_frames

_BALANCER = 0  # origin of a request: through the balancer
_DIRECT = 1  # or straight from a client on the direct socket


class Target:
    def __init__(
        self,
        spec: TargetSpec,
        backend: str | Sequence[str] | None,
        *,
        bind: str | None = None,
        seed: int = 0,
        heartbeat_s: float = 0.05,
        schedule: tuple[Fault, ...] = (),
        context: zmq.Context | None = None,
        keys: PeerKeys | None = None,
        insecure: bool = False,
        report_every_s: float | None = None,
        report_delay_s: float = 0.0,
    ) -> None:
        """``keys``: CurveZMQ keys to join a balancer that has them. The direct socket
        has none: binding it beyond loopback is refused unless ``insecure``.
        ``report_every_s``: post its load (the requests it holds, from every balancer)
        to every balancer at each multiple of this period on the machine's clock, so
        that all targets post together (Mitzenmacher's bulletin board, as simulated);
        each post reaches them ``report_delay_s`` later. Not while partitioned."""
        if bind is not None:
            check_exposure(bind, "--bind", secured=False, insecure=insecure)
        self.spec = spec
        self.ident = spec.id.encode()
        self.heartbeat_s = heartbeat_s
        self.context = context or zmq.Context.instance()
        self.sockets: list[zmq.Socket] = []
        self.direct: zmq.Socket | None = None
        self.bound_address = ""
        backends = [backend] if isinstance(backend, str) else list(backend or ())
        #: one DEALER per balancer, in the order given; a request's reply goes back on
        #: the one it came in on
        self.dealers: list[zmq.Socket] = []
        for address in backends:
            dealer = self._socket(zmq.DEALER)
            dealer.setsockopt(zmq.IDENTITY, self.ident)
            if keys is not None:
                keys.connect(dealer)
            dealer.connect(address)
            self.dealers.append(dealer)
        self.dealer: zmq.Socket | None = self.dealers[0] if self.dealers else None
        if bind is not None:
            self.direct = self._socket(zmq.ROUTER)
            self.direct.bind(bind)
            self.bound_address = self.direct.getsockopt_string(zmq.LAST_ENDPOINT)
        self._timers: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        # a job's work: (origin, route, attempt id, payload, when taken); its payload may carry
        # its work quantile (the generator's, as the simulator draws them)
        self.model = TargetModel(
            spec,
            seed,
            lambda done_at, job: heapq.heappush(self._timers, (done_at, next(self._seq), job)),
            work_of=lambda work: p.work_of(work[3]),
        )
        self.faults = self.model.faults
        self._direct_ids = itertools.count()
        self.served = 0
        self.dropped = 0
        self.residence_s = 0.0  # summed over the balancers' requests answered (tally)
        self.residence_n = 0
        self._schedule = sorted(schedule, key=lambda f: f.at_s)
        self.recoveries: list[float] = []  # when faults in force end (monotonic seconds)
        self._stop = False
        self._balancer_seen = [0.0] * len(self.dealers)  # each balancer's last heartbeat
        self.report_every_s = report_every_s
        self.report_delay_s = report_delay_s
        self._posts: deque[tuple[float, int]] = deque()  # (when it goes out, the load)

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        self.sockets.append(sock)
        return sock

    # ------------------------------------------------------------------ sending

    def _to_balancer(self, frames: list[bytes], which: int | None = None) -> None:
        """Send to balancer ``which`` (its index), or to every one."""
        dealers = self.dealers if which is None else [self.dealers[which]]
        for dealer in dealers:
            # Nobody to talk to yet drops the message: the balancer re-asks with WHO.
            with contextlib.suppress(zmq.Again):
                send_frames(dealer, frames, True)

    def announce(self, which: int | None = None) -> None:
        meta = {
            "id": self.spec.id,
            "weight": self.spec.weight,
            "tier": self.spec.tier,
            "capacity": self.spec.capacity,
            "latency": self.spec.latency.describe(),
            "pid": os.getpid(),
        }
        self._to_balancer([p.READY, p.encode_json(meta)], which)

    # ------------------------------------------------------------------ service

    def _accept(self, origin: int, route: Any, attempt: bytes, payload: bytes, now: float) -> None:
        # Requests from a balancer are known by that balancer and attempt id (it may
        # cancel them; two balancers' ids may meet); direct ones by a number of our own.
        key = (route, attempt) if origin == _BALANCER else next(self._direct_ids)
        if not self.model.offer(key, (origin, route, attempt, payload, now), now):
            self.dropped += 1

    def _finish(self, job: Job, now: float) -> None:
        ok = self.model.finish(job, now)
        if ok is None:
            self.dropped += 1
            return
        origin, route, attempt, payload, accepted = job[1]
        status = p.STATUS_OK if ok else p.STATUS_ERROR
        self.served += 1
        if origin == _BALANCER:
            # From taking it to its scheduled end (``now``: the queue chains on those):
            # what the request spent here by the model; the rest of its latency, the
            # sockets, the processes' wake-ups and a timer's lateness, is the rig's.
            self.residence_s += now - accepted
            self.residence_n += 1
            self._to_balancer([p.reply_header(attempt, status), payload], route)
        elif self.direct is not None:
            send_frames(self.direct, p.reply_frames(route, status, self.ident, payload))

    # ------------------------------------------------------------------ control

    def apply_fault(self, command: dict[str, Any], now: float) -> None:
        """Apply a fault command now; with ``duration_s``, recover when it is over."""
        command = parse_command(command)
        if command["kind"] == "crash":
            # A crash is abrupt: no goodbye, no flush, sockets die with the process.
            sys.stderr.flush()
            os._exit(3)
        self.model.apply(command, now)
        if "duration_s" in command:
            self.recoveries.append(now + command["duration_s"])

    def _on_balancer(self, frames: list[bytes], now: float, which: int = 0) -> None:
        """A message from balancer ``which`` (the index of its DEALER)."""
        command = frames[0]
        attempt = p.request_attempt(command)
        if attempt is not None and len(frames) == 3:
            self._accept(_BALANCER, which, attempt, frames[2], now)
        elif command == p.CANCEL and len(frames) == 2:
            self.model.cancel((which, frames[1]))
        elif command == p.PROBE and len(frames) == 2:
            answer = self.model.probe(now)
            if answer is not None:  # (none while partitioned)
                rif, latency = p.pack_probe_reply(*answer)
                self._to_balancer([p.PROBED, frames[1], rif, latency], which)
        elif command == p.HB:
            self._balancer_seen[which] = now
        elif command == p.WHO:
            self.announce(which)
        elif command == p.FAULT and len(frames) == 2:
            try:
                self.apply_fault(p.decode_json(frames[1], "FAULT"), now)
            except (p.ProtocolError, ValueError) as error:
                print(f"target {self.spec.id}: ignored bad fault: {error}", file=sys.stderr)

    def tally(self) -> dict[str, Any]:
        """What this process answered for the balancers, and the time those requests spent
        in it (``lbbench target --tally``: the live rig's own latency in a trial is the
        clients' latency less this)."""
        return {
            "id": self.spec.id,
            "answered": self.residence_n,
            "residence_s": self.residence_s,
        }

    def _on_direct(self, frames: list[bytes], now: float) -> None:
        assert self.direct is not None
        try:
            envelope, body = p.split_envelope(frames)
            _key, payload = p.parse_request_body(body)
        except p.ProtocolError:
            envelope = [*frames[:1], b""]
            self.direct.send_multipart(p.reply_frames(envelope, p.STATUS_MALFORMED, b"", b""))
            return
        self._accept(_DIRECT, envelope, b"", payload, now)

    # ------------------------------------------------------------------ loop

    def stop(self, *_: Any) -> None:
        self._stop = True

    def run(self, until: float | None = None) -> int:
        """Serve until stopped (SIGTERM/SIGINT) or until monotonic time ``until``."""
        waiter = SocketWaiter(self.sockets)
        start = time.monotonic()
        self.announce()
        seen = self._balancer_seen
        seen[:] = [start] * len(seen)
        balancer_of = {dealer: index for index, dealer in enumerate(self.dealers)}
        next_heartbeat = start + self.heartbeat_s
        every = self.report_every_s
        next_report = math.inf if every is None else (math.floor(start / every) + 1) * every
        posts = self._posts
        schedule = deque(self._schedule)
        recoveries = self.recoveries
        timers = self._timers
        while not self._stop and (until is None or time.monotonic() < until):
            now = time.monotonic()
            due = min(next_heartbeat, next_report, posts[0][0] if posts else math.inf)
            if timers and timers[0][0] < due:
                due = timers[0][0]
            # To the microsecond (precise_wait): a job's reply leaves when its
            # service time is up, not at the next millisecond or nap.
            for sock in waiter.wait(min(due - now, 0.1)):
                which = balancer_of.get(sock)
                for _ in range(1000):
                    try:
                        frames = recv_frames(sock)
                    except zmq.Again:
                        break
                    if which is None:
                        self._on_direct(frames, time.monotonic())
                    else:
                        self._on_balancer(frames, time.monotonic(), which)
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                done_at, _, job = heapq.heappop(timers)
                self._finish(job, done_at)  # chain the queue on scheduled ends (ServiceQueue)
            if now >= next_report:
                assert every is not None
                if self.model.heartbeats(now):  # a partitioned one posts nothing
                    posts.append((next_report + self.report_delay_s, self.model.queue.in_flight))
                next_report = (math.floor(now / every) + 1) * every
            while posts and posts[0][0] <= now:
                self._to_balancer([p.LOAD, p.pack_load(posts.popleft()[1])])
            if now >= next_heartbeat:
                if self.model.heartbeats(now):
                    self._to_balancer([p.HB])
                for which, heard in enumerate(seen):
                    if now - heard > 20 * self.heartbeat_s:
                        self.announce(which)  # that balancer may have restarted
                        seen[which] = now
                next_heartbeat = max(next_heartbeat + self.heartbeat_s, now)
            while schedule and now - start >= schedule[0].at_s:
                fault = schedule.popleft()
                self.apply_fault(fault.command(), now)
                if fault.end_s is not None:
                    recoveries.append(start + fault.end_s)
            for end in [r for r in recoveries if r <= now]:
                recoveries.remove(end)
                self.model.end_timed(now)
        self._to_balancer([p.BYE])
        for sock in self.sockets:
            sock.close(0)
        return 0


def serve(
    spec: TargetSpec,
    backend: str | Sequence[str] | None,
    *,
    bind: str | None = None,
    seed: int = 0,
    schedule: tuple[Fault, ...] = (),
    announce_to: Any = None,
    keys: PeerKeys | None = None,
    insecure: bool = False,
    tally: str | None = None,
    report_every_s: float | None = None,
    report_delay_s: float = 0.0,
) -> int:
    """Run one target in this process until SIGTERM or SIGINT; ``tally``: a file to which
    it then appends what it answered (``Target.tally``, a JSON line). A crash writes
    nothing: the rig sees a tally short of the requests answered."""
    precise_timers()
    target = Target(
        spec,
        backend,
        bind=bind,
        seed=seed,
        schedule=schedule,
        keys=keys,
        insecure=insecure,
        report_every_s=report_every_s,
        report_delay_s=report_delay_s,
    )
    signal.signal(signal.SIGTERM, target.stop)
    signal.signal(signal.SIGINT, target.stop)
    if announce_to is not None:
        announce_to.write(
            p.encode_json(
                {"id": spec.id, "pid": os.getpid(), "direct": target.bound_address}
            ).decode()
            + "\n"
        )
        announce_to.flush()
    code = target.run()
    if tally is not None:
        with open(tally, "a", encoding="utf-8") as out:
            out.write(json.dumps(target.tally()) + "\n")
    return code
