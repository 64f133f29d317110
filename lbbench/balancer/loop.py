"""The ZeroMQ balancer under test: sockets and timers around the pure router.

Frontend ROUTER (clients, REQ-compatible), backend ROUTER (targets connect
with their id as routing id), control REP (JSON: stats, events, faults,
strategy and failover switches). One thread, one socket waiter, one timer heap;
every decision is the router's.

The hot loop reads the frontend eagerly into an inbox (``inbox.py``:
requests that wait there too long are answered ``overloaded`` at once),
routes from it in batches, drains the backend in batches and dispatches
on the first frame; the router's actions are executed in order, and a
send that cannot be delivered (the target is gone: ROUTER_MANDATORY
reports it) is fed back to the router as a failed attempt. What it can
hold is bounded (``limits.py``).
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import random
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import zmq

from lbbench import protocol as p
from lbbench.balancer import control
from lbbench.balancer.budget import PeerBudgets
from lbbench.balancer.control import check_live
from lbbench.balancer.cut import ConnectionCutter
from lbbench.balancer.inbox import Inbox
from lbbench.balancer.limits import (
    CONTROL_MAX_MESSAGE_SIZE,
    INBOX_MAX,
    MIN_HWM,
    TARGET_HWM,
    Limits,
)
from lbbench.balancer.memory import Trimmer
from lbbench.balancer.outbox import Outbox
from lbbench.balancer.peers import FORGET_AFTER_S, Silence, backend_from_ready
from lbbench.core import streams
from lbbench.core.actions import Arm, Cancel, Probe, Reply, Send
from lbbench.core.backends import Backend
from lbbench.core.config import RouterConfig
from lbbench.core.router import Router
from lbbench.core.settings import resolved
from lbbench.errors import ConfigError, LbbenchError
from lbbench.gc_pacing import pace_for_good
from lbbench.precise_wait import SocketWaiter, precise_timers
from lbbench.scenario.balancers import listing
from lbbench.security import ServerKeys, check_exposure
from lbbench.vocabulary import MALFORMED, OVERLOADED, UNAVAILABLE
from lbbench.zmq_io import recv_frames, recv_frames_and_fd, send_frames

DEFAULT_FRONTEND = p.DEFAULT_FRONTEND
DEFAULT_BACKEND = p.DEFAULT_BACKEND
DEFAULT_CONTROL = p.DEFAULT_CONTROL

_BATCH = 256  # messages drained from one socket (or routed) before looking at the others
_FLOOD_BATCH = 32  # backend messages read at a time while most are over budget
_FLOOD_REST_S = 0.0005  # and the pause between those batches
_READ_BATCH = 1024  # requests read into the inbox at a time: reading is cheap
_ROUTE_BUDGET_S = 0.005  # routing from the inbox stops after this long, to read again
_BACKLOG_RETRY_S = 0.001  # how soon a reply held for a slow client is tried again
_EXIT_FLUSH_S = 1.0  # at exit, how long replies held for slow clients may still go out
WHO_INTERVAL_S = 1.0  # a peer that has not joined is asked to announce itself this often
MAX_ASKED_WHO = 10_000  # peers whose last WHO is remembered
MAX_REFUSALS_LOGGED = 100  # peers whose refused READY gets a line in the log (all are counted)
_MALFORMED = MALFORMED.encode()
_OVERLOADED = OVERLOADED.encode()
_UNAVAILABLE = UNAVAILABLE.encode()


class AddressInUse(LbbenchError):
    pass


def unguessable_ids() -> Iterator[int]:
    """Attempt ids drawn at random (63 bits, seeded from the OS), so that a peer that sees
    its own attempts learns nothing of the ids of attempts sent to others."""
    draw = random.Random(int.from_bytes(os.urandom(16), "big")).getrandbits
    while True:
        yield draw(63)


class ClientRequest:
    """A client's request while the router has it: where the answer goes, what to send."""

    __slots__ = ("envelope", "key", "payload", "sent", "size")

    def __init__(self, envelope: list[bytes], key: bytes, payload: bytes, size: int) -> None:
        self.envelope = envelope  # the client's routing ids and the empty delimiter
        self.key = key  # its routing key (b"": none)
        self.payload = payload
        self.size = size  # bytes held for it (limits.max_held_bytes)
        self.sent = 0  # attempts that reached a target (each further one gets new work)


class Balancer:
    def __init__(
        self,
        config: RouterConfig,
        *,
        frontend: str = DEFAULT_FRONTEND,
        backend: str = DEFAULT_BACKEND,
        control: str | None = DEFAULT_CONTROL,
        seed: int = 0,
        index: int = 0,
        heartbeat_s: float = 0.5,
        weights: Mapping[str, Backend] | None = None,
        context: zmq.Context | None = None,
        forget_after_s: float = FORGET_AFTER_S,
        limits: Limits | None = None,
        security: ServerKeys | None = None,
        insecure: bool = False,
    ) -> None:
        """``security``: CurveZMQ keys for all three sockets (only authorized peers get in);
        without them, a socket bound beyond loopback is refused unless ``insecure``.
        ``index``: this balancer's place among several sharing the fleet (``balancers =
        N``): its random choices are that router's stream, as in the simulator."""
        self.router = Router(
            check_live(config),
            rng=random.Random(streams.balancer_router(seed, index)),
            attempt_ids=unguessable_ids(),
            # the fleet's order as the simulated router ``index`` lists it, whatever
            # order its targets join in
            listing=listing(list(weights or {}), seed, index),
        )
        self.silence = Silence(forget_after_s)
        self.limits = limits = limits or Limits()
        self.inbox = Inbox(limits.wait_for(config.deadline_s))
        self.context = context or zmq.Context.instance()
        self.security = security
        self.insecure = insecure
        self._authenticator = security.authenticate(self.context) if security else None
        self.heartbeat_s = heartbeat_s
        self.known = dict(weights or {})  # profile metadata wins over a target's READY
        self._sockets: list[zmq.Socket] = []
        self.front = self._bind(zmq.ROUTER, frontend, "--frontend", hwm=limits.client_send_hwm)
        self.front.setsockopt(zmq.RCVHWM, limits.client_recv_hwm)
        # A full client queue raises EAGAIN instead of dropping the reply: the
        # outbox keeps it for that client (bounded) and sends it again.
        self.front.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.outbox = Outbox(self.front, limits.outbox_client_bytes, limits.outbox_bytes)
        self.back = self._bind(zmq.ROUTER, backend, "--backend", hwm=TARGET_HWM)
        self.back.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # No handover: a second peer claiming a connected target's id is refused
        # by ZeroMQ itself; the id is free again once the first one's
        # connection is gone (a restarted target reconnects then).
        self.back.setsockopt(zmq.ROUTER_HANDOVER, 0)
        self.ctl = None
        if control:
            self.ctl = self._bind(
                zmq.REP, control, "--control", hwm=MIN_HWM, max_size=CONTROL_MAX_MESSAGE_SIZE
            )
        self.endpoints = {
            "frontend": self.front.getsockopt_string(zmq.LAST_ENDPOINT),
            "backend": self.back.getsockopt_string(zmq.LAST_ENDPOINT),
            "control": self.ctl.getsockopt_string(zmq.LAST_ENDPOINT) if self.ctl else "",
        }
        self._clients: dict[int, ClientRequest] = {}  # by the router's request id
        self.held = 0  # bytes of requests in the inbox or in flight (limits.max_held_bytes)
        self._rids = itertools.count()
        self._timers: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._ids: dict[str, bytes] = {}
        self._draining = False
        self._stop = False
        self.malformed = 0
        self.load_reports = 0  # LOAD messages taken (view "reports")
        self.malformed_reports = 0
        self.refused_ready = 0  # READYs refused: a bad id or metadata, or too many backends
        self.budgets = PeerBudgets()  # what each backend peer may send (balancer.budget)
        self.cutter = ConnectionCutter()  # closes quarantined peers' connections (balancer.cut)
        self._asked_who: dict[str, float] = {}
        self.asked_who = 0
        self._refusals_logged: set[str] = set()
        self.received = 0
        self.answered = 0
        self.shed_waited = 0  # answered overloaded: waited in the inbox past max_wait_s
        self.shed_held = 0  # answered overloaded: would have held more than max_held_bytes
        self.shed_queue = 0  # answered overloaded on arrival: a standing queue in the inbox
        self.started = time.monotonic()
        self.trimmer = Trimmer(self.started)

    def _bind(
        self, kind: int, address: str, flag: str, *, hwm: int, max_size: int = 0
    ) -> zmq.Socket:
        try:
            check_exposure(address, flag, self.security is not None, self.insecure)
        except ConfigError:
            self.close()
            raise
        sock = self.context.socket(kind)
        if self.security is not None:
            self.security.serve(sock)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, max_size or self.limits.max_message_size)
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        try:
            sock.bind(address)
        except zmq.ZMQError as error:
            sock.close(0)
            self.close()
            if error.errno == zmq.EADDRINUSE:
                raise AddressInUse(flag, f"address {address} is already in use") from None
            raise ConfigError(flag, f"cannot bind {address}: {error.strerror}") from None
        self._sockets.append(sock)
        return sock

    # ------------------------------------------------------------------ actions

    def execute(self, actions: list[Any], now: float) -> None:
        """Carry out the router's actions (the control endpoint's switches too)."""
        self._execute(actions, now)

    def send_backend(self, backend_id: str, frames: list[bytes]) -> bool:
        return self._send_backend(backend_id, frames)

    def stats(self, now: float) -> dict[str, Any]:
        """The control endpoint's ``stats`` answer: the router's snapshot and the balancer's
        own counts and limits."""
        snapshot = self.router.snapshot()
        limits = self.limits
        snapshot.update(
            {
                "now": now,
                "uptime_s": now - self.started,
                "received": self.received,
                "answered": self.answered,
                "malformed": self.malformed,
                "refused_ready": self.refused_ready,
                "load_reports": {"taken": self.load_reports, "malformed": self.malformed_reports},
                "backend_budget": {
                    **self.budgets.stats(now),
                    "asked_who": self.asked_who,
                    "disconnected": self.cutter.cuts,
                    "spared": self.cutter.spared,
                },
                "shed": {
                    "queue": self.shed_queue,
                    "waited": self.shed_waited,
                    "held": self.shed_held,
                },
                "inbox": {"requests": len(self.inbox), "oldest_s": self.inbox.oldest_age(now)},
                "held_bytes": self.held,
                "replies": {
                    "held": self.outbox.waiting,
                    "held_bytes": self.outbox.bytes,
                    "dropped": self.outbox.dropped,
                    "gone": self.outbox.gone,
                },
                "limits": {
                    "max_message_size": limits.max_message_size,
                    "max_wait_s": self.inbox.max_wait_s,
                    "max_held_bytes": limits.max_held_bytes,
                    "client_recv_hwm": limits.client_recv_hwm,
                    "client_send_hwm": limits.client_send_hwm,
                    "target_hwm": TARGET_HWM,
                    "outbox_bytes": limits.outbox_bytes,
                },
                "events_total": len(self.router.events),
                "endpoints": self.endpoints,
                "settings": resolved(self.router.config),
            }
        )
        return snapshot

    def shut_down(self) -> None:
        self._stop = True

    def _execute(self, actions: list[Any], now: float) -> None:
        router = self.router
        send = send_frames
        outbox = self.outbox
        pending = actions
        while pending:
            more: list[Any] = []
            for action in pending:
                kind = type(action)
                if kind is Send:
                    client = self._clients[action.request]
                    sent = client.sent
                    try:
                        send(
                            self.back,
                            [
                                self._ident(action.backend),
                                p.request_header(action.attempt),
                                client.key,
                                p.payload_for_attempt(client.payload, sent)
                                if sent
                                else client.payload,
                            ],
                            True,
                        )
                        client.sent = sent + 1
                        self.budgets.earned(action.backend)  # it may answer
                    except zmq.ZMQError:  # EHOSTUNREACH: not connected; EAGAIN: full
                        more.extend(router.on_send_failed(now, action.attempt))
                elif kind is Arm:
                    heapq.heappush(self._timers, (action.at, next(self._seq), action.timer))
                elif kind is Reply:
                    client = self._clients.pop(action.request)
                    self.held -= client.size
                    outbox.send(
                        [
                            *client.envelope,
                            action.status.encode(),
                            action.backend.encode(),
                            action.payload,
                        ]
                    )
                    self.answered += 1
                elif kind is Cancel:
                    self._send_backend(action.backend, [p.CANCEL, p.pack_id(action.attempt)])
                elif kind is Probe and self._send_backend(action.backend, [p.PROBE, p.pack_id(0)]):
                    self.budgets.earned(action.backend)  # it may answer
            pending = more

    def _ident(self, backend_id: str) -> bytes:
        ident = self._ids.get(backend_id)
        if ident is None:
            ident = self._ids[backend_id] = backend_id.encode()
        return ident

    def _send_backend(self, backend_id: str, frames: list[bytes]) -> bool:
        try:
            send_frames(self.back, [self._ident(backend_id), *frames], True)
            return True
        except zmq.ZMQError:
            return False

    # ------------------------------------------------------------------ inbound

    def _read_frontend(self) -> None:
        """Read what the frontend has (up to a batch) into the inbox, time-stamped."""
        inbox, front, receive = self.inbox, self.front, recv_frames
        room = min(_READ_BATCH, INBOX_MAX - len(inbox))
        budget = self.limits.max_held_bytes
        now = time.monotonic()
        for _ in range(room):
            try:
                frames = receive(front)
            except zmq.Again:
                return
            self.received += 1
            size = sum(map(len, frames))
            if self.held + size > budget:
                self.shed_held += 1
                self._answer(frames, _OVERLOADED)
                continue
            if inbox.standing(now):
                self.shed_queue += 1
                self._answer(frames, _OVERLOADED)
                continue
            self.held += size
            inbox.put(frames, size, now)

    def _route_inbox(self) -> None:
        """Answer what waited too long, then route a batch of requests, oldest first."""
        now = time.monotonic()
        for _, size, frames in self.inbox.stale(now):
            self.held -= size
            self.shed_waited += 1
            self._answer(frames, _OVERLOADED)
        inbox = self.inbox
        monotonic = time.monotonic
        stop_at = now + _ROUTE_BUDGET_S
        routed = 0
        for _ in range(min(_BATCH, len(inbox))):
            read_at, size, frames = inbox.take()
            routed += 1
            self._on_frontend(frames, size, monotonic(), read_at)
            if monotonic() > stop_at:  # keep reading (and timing) what arrives meanwhile
                break
        inbox.routed(now, routed)

    def _answer(self, frames: list[bytes], status: bytes) -> None:
        """Answer a request without routing it (``malformed`` if it cannot be parsed)."""
        try:
            envelope, body = p.split_envelope(frames)
            p.parse_request_body(body)
        except p.ProtocolError:
            self.malformed += 1
            envelope = [frames[0], b""] if frames and frames[0] else frames[:1]
            status = _MALFORMED
        if envelope:
            self.outbox.send([*envelope, status, b"", b""])
            self.answered += 1

    def _on_frontend(self, frames: list[bytes], size: int, now: float, read_at: float) -> None:
        try:
            envelope, body = p.split_envelope(frames)
            key, payload = p.parse_request_body(body)
        except p.ProtocolError:
            self.held -= size
            self._answer(frames, _MALFORMED)
            return
        if self._draining:
            self.held -= size
            self._answer(frames, _UNAVAILABLE)
            return
        rid = next(self._rids)
        self._clients[rid] = ClientRequest(envelope, key or b"", payload, size)
        self._execute(self.router.on_request(now, rid, key, read_at), now)

    def _on_backend(self, frames: list[bytes], now: float, fd: int = -1) -> None:
        """One message from the backend socket; ``fd``: the connection it came in on, when
        known (while a peer floods the socket), so that a quarantined peer's can be cut."""
        if len(frames) < 2:
            return
        sender = frames[0].decode(errors="replace")
        command = frames[1]
        router = self.router
        state = router.backends.get(sender)
        joined = state is not None and state.joined
        budgets = self.budgets
        if not budgets.allows(sender, joined, now):  # over budget: dropped unread, counted
            if budgets.newly_quarantined:
                for peer in budgets.newly_quarantined:
                    print(
                        f"balancer: quarantined backend peer {peer!r} for "
                        f"{budgets.settings.quarantine_s:g} s (its connections closed): "
                        "far more messages than its traffic explains",
                        file=sys.stderr,
                    )
                budgets.newly_quarantined.clear()
            if fd >= 0 and budgets.quarantined(sender, now):
                self.cutter.cut(sender, fd, now)
            return
        if joined and fd >= 0:
            self.cutter.heard_target(sender, fd)
        if joined:  # (only joined targets: ids that never join leave no record)
            self.silence.heard(sender, now)
        if command[:3] == p.REP and len(frames) == 3:
            if not joined:
                self._ask_who(sender, now)
                return
            try:
                attempt, ok = p.parse_reply_header(command)
            except p.ProtocolError:
                return
            self._execute(router.on_reply(now, attempt, ok, sender, frames[2]), now)
        elif command == p.HB:
            if not joined:
                self._ask_who(sender, now)
            else:
                self._execute(router.on_heartbeat(now, sender), now)
        elif command == p.READY and len(frames) == 3:
            try:
                backend = backend_from_ready(sender, frames[2], self.known, router.backends)
            except (p.ProtocolError, LbbenchError) as error:
                self.refused_ready += 1
                # one line per peer (a peer repeating itself does not flood the log)
                logged = self._refusals_logged
                if len(logged) < MAX_REFUSALS_LOGGED and sender not in logged:
                    logged.add(sender)
                    print(f"balancer: refused READY from {sender!r}: {error}", file=sys.stderr)
                return
            self.silence.heard(sender, now)
            self._execute(router.on_join(now, backend), now)
        elif command == p.PROBED and len(frames) == 5:
            try:
                in_flight, latency = p.unpack_probe_reply(frames[3], frames[4])
            except p.ProtocolError:
                return
            self._execute(router.on_probe_reply(now, sender, in_flight, latency), now)
        elif command == p.LOAD and len(frames) == 3 and joined:
            try:
                load = p.unpack_load(frames[2])
            except p.ProtocolError:
                self.malformed_reports += 1
                return
            self.load_reports += 1
            # (ignored under view "local": a target posting it costs nothing then)
            router.on_load_report(now, {sender: load})
        elif command == p.BYE:
            self.silence.forget(sender)
            budgets.left(sender)
            self.cutter.forget_target(sender)
            self._execute(router.on_leave(now, sender, "said goodbye"), now)

    def _ask_who(self, peer: str, now: float) -> None:
        """Ask a peer that has not joined to announce itself: once per WHO_INTERVAL_S at
        most (a peer heartbeating unjoined as fast as it can got a WHO for every one)."""
        asked = self._asked_who
        if now - asked.get(peer, -WHO_INTERVAL_S) < WHO_INTERVAL_S:
            return
        if len(asked) >= MAX_ASKED_WHO:
            asked.clear()  # many ids at once: forget who was asked when (bounded)
        asked[peer] = now
        self._send_backend(peer, [p.WHO])
        self.asked_who += 1

    def _forget_the_silent(self, now: float) -> None:
        """Joined targets not heard from for a while left without a word: take them out."""
        joined = [b.id for b in self.router.backends.values() if b.joined]
        for peer, since in self.silence.silent(joined, now):
            self.silence.forget(peer)
            self.budgets.left(peer)
            self.cutter.forget_target(peer)
            self._execute(self.router.on_leave(now, peer, f"silent for {since:.1f} s"), now)

    # ------------------------------------------------------------------ loop

    def stop(self, *_: Any) -> None:
        """Stop taking requests; answer or time out those in flight, then exit."""
        if not self._draining:
            self._draining = True
            self._drain_deadline = time.monotonic() + self.router.config.deadline_s + 0.5

    def run(self) -> int:
        pace_for_good()  # the loop is the process: collect garbage less often (gc_pacing)
        precise_timers()  # its timers (hedges, probes, deadlines) fire on time
        router = self.router
        self._execute(router.start(time.monotonic()), time.monotonic())
        # Not zmq.poll: it waits whole milliseconds (a shorter wait is 0), so
        # with a timer under a millisecond away (a deadline every couple of
        # ms at a few hundred requests/s) the loop spun, and on a small
        # machine took the cores the generator and the targets needed
        # (measured: p90 of the rig's own latency 1.3 ms instead of 0.3).
        waiter = SocketWaiter([s for s in (self.front, self.back, self.ctl) if s is not None])
        # While a peer floods the backend socket, it is read in small batches with a
        # pause between them: libzmq then stops reading the flooder's connection once
        # its queue is full (TCP pushes back on it), instead of the balancer spending a
        # core on reading what its budget drops. Fair queueing across the targets'
        # queues still reads each target's replies in every batch.
        resting = SocketWaiter([s for s in (self.front, self.ctl) if s is not None])
        rest_until = 0.0
        back_batch = _BATCH
        budgets = self.budgets
        front, back, ctl = self.front, self.back, self.ctl
        inbox, outbox = self.inbox, self.outbox
        timers = self._timers
        next_heartbeat = time.monotonic() + self.heartbeat_s
        monotonic = time.monotonic
        receive = recv_frames
        while not self._stop:
            now = monotonic()
            if self._draining and (router.pending == 0 or now >= self._drain_deadline):
                break
            due = next_heartbeat
            if timers and timers[0][0] < due:
                due = timers[0][0]
            wait = due - now
            if inbox:
                wait = 0.0
            elif outbox.bytes:  # a client is slow to read: look again soon, without spinning
                wait = min(wait, _BACKLOG_RETRY_S)
            if now < rest_until:
                ready = resting.wait(min(wait, rest_until - now))
            else:
                ready = waiter.wait(wait)
            for sock in ready:
                if sock is ctl:
                    request = ctl.recv_multipart()  # all of it: a REP socket takes one message
                    ctl.send(p.encode_json(control.answer(self, request, monotonic())))
                elif sock is back:
                    dropped = budgets.dropped
                    if back_batch == _FLOOD_BATCH:  # flooded: which connection, to cut it
                        for _ in range(back_batch):
                            try:
                                frames, fd = recv_frames_and_fd(back)
                            except zmq.Again:
                                break
                            self._on_backend(frames, monotonic(), fd)
                    else:
                        for _ in range(back_batch):
                            try:
                                frames = receive(back)
                            except zmq.Again:
                                break
                            self._on_backend(frames, monotonic())
                    if 2 * (budgets.dropped - dropped) > back_batch:  # mostly over budget
                        back_batch = _FLOOD_BATCH
                        rest_until = monotonic() + _FLOOD_REST_S
                    else:
                        back_batch = _BATCH
                elif sock is front:
                    self._read_frontend()
            if inbox:
                self._route_inbox()
            if outbox.bytes:
                outbox.flush()
            now = monotonic()
            while timers and timers[0][0] <= now:
                _, _, timer = heapq.heappop(timers)
                self._execute(router.on_timer(now, timer), now)
            if now >= next_heartbeat:
                for state in router.backends.values():
                    if state.joined:
                        self._send_backend(state.id, [p.HB])
                self._forget_the_silent(now)
                self.trimmer.tick(now)
                next_heartbeat = now + self.heartbeat_s
        left = router.pending + len(inbox)
        # Whatever is still pending when we go is answered, never dropped silently.
        for _, _, frames in inbox.drain():
            self._answer(frames, _UNAVAILABLE)
        for rid in list(self._clients):
            envelope = self._clients.pop(rid).envelope
            outbox.send([*envelope, _UNAVAILABLE, b"", b""])
            self.answered += 1
        deadline = monotonic() + _EXIT_FLUSH_S
        while outbox.bytes and monotonic() < deadline:  # replies clients are slow to take
            outbox.flush()
            waiter.wait(_BACKLOG_RETRY_S)
        print(
            f"balancer: stopped; received {self.received}, answered {self.answered}, "
            f"answered unavailable at exit {left}, malformed {self.malformed}, "
            f"replies not delivered {outbox.dropped + outbox.gone + outbox.waiting}",
            file=sys.stderr,
        )
        self.close()
        return 0

    def close(self) -> None:
        for sock in self._sockets:
            sock.close(0)
        self._sockets = []
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None


def serve(balancer: Balancer, announce: bool = False) -> int:
    signal.signal(signal.SIGTERM, balancer.stop)
    signal.signal(signal.SIGINT, balancer.stop)
    if announce:
        print(json.dumps({"balancer": balancer.endpoints}), flush=True)
    else:
        print(
            f"balancer: frontend {balancer.endpoints['frontend']}, backend "
            f"{balancer.endpoints['backend']}, control {balancer.endpoints['control'] or 'off'}; "
            f"strategy {balancer.router.config.strategy}, failover "
            f"{balancer.router.config.failover.label}",
            file=sys.stderr,
            flush=True,
        )
    return balancer.run()
