"""The ZeroMQ balancer under test: sockets and timers around the pure router.

Frontend ROUTER (clients, REQ-compatible), backend ROUTER (targets connect
with their id as routing id), control REP (JSON: stats, events, faults,
strategy and failover switches). One thread, one poller, one timer heap;
every decision is the router's.

The hot loop drains each ready socket in batches and dispatches on the
first frame; the router's actions are executed in order, and a send that
cannot be delivered (the target is gone: ROUTER_MANDATORY reports it) is
fed back to the router as a failed attempt.
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
from lbbench.balancer.peers import FORGET_AFTER_S, Silence, backend_from_ready
from lbbench.core.actions import Arm, Cancel, Probe, Reply, Send
from lbbench.core.backends import Backend
from lbbench.core.config import RouterConfig
from lbbench.core.router import Router
from lbbench.core.settings import resolved
from lbbench.errors import ConfigError, LbbenchError
from lbbench.vocabulary import MALFORMED

DEFAULT_FRONTEND = p.DEFAULT_FRONTEND
DEFAULT_BACKEND = p.DEFAULT_BACKEND
DEFAULT_CONTROL = p.DEFAULT_CONTROL

_BATCH = 256  # messages drained from one socket before looking at the others


class AddressInUse(LbbenchError):
    pass


def unguessable_ids() -> Iterator[int]:
    """Attempt ids drawn at random (63 bits, seeded from the OS), so that a peer that sees
    its own attempts learns nothing of the ids of attempts sent to others."""
    draw = random.Random(int.from_bytes(os.urandom(16), "big")).getrandbits
    while True:
        yield draw(63)


class Balancer:
    def __init__(
        self,
        config: RouterConfig,
        *,
        frontend: str = DEFAULT_FRONTEND,
        backend: str = DEFAULT_BACKEND,
        control: str | None = DEFAULT_CONTROL,
        seed: int = 0,
        heartbeat_s: float = 0.5,
        weights: Mapping[str, Backend] | None = None,
        context: zmq.Context | None = None,
        forget_after_s: float = FORGET_AFTER_S,
    ) -> None:
        self.router = Router(config, rng=random.Random(seed), attempt_ids=unguessable_ids())
        self.silence = Silence(forget_after_s)
        self.context = context or zmq.Context.instance()
        self.heartbeat_s = heartbeat_s
        self.known = dict(weights or {})  # profile metadata wins over a target's READY
        self._sockets: list[zmq.Socket] = []
        self.front = self._bind(zmq.ROUTER, frontend, "--frontend")
        self.back = self._bind(zmq.ROUTER, backend, "--backend")
        self.back.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # No handover: a second peer claiming a connected target's id is refused
        # by ZeroMQ itself; the id is free again once the first one's
        # connection is gone (a restarted target reconnects then).
        self.back.setsockopt(zmq.ROUTER_HANDOVER, 0)
        self.ctl = self._bind(zmq.REP, control, "--control") if control else None
        self.endpoints = {
            "frontend": self.front.getsockopt_string(zmq.LAST_ENDPOINT),
            "backend": self.back.getsockopt_string(zmq.LAST_ENDPOINT),
            "control": self.ctl.getsockopt_string(zmq.LAST_ENDPOINT) if self.ctl else "",
        }
        self._clients: dict[int, tuple[list[bytes], bytes, bytes]] = {}
        self._rids = itertools.count()
        self._timers: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._ids: dict[str, bytes] = {}
        self._payload = b""
        self._draining = False
        self._stop = False
        self.malformed = 0
        self.received = 0
        self.answered = 0
        self.started = time.monotonic()

    def _bind(self, kind: int, address: str, flag: str) -> zmq.Socket:
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        try:
            sock.bind(address)
        except zmq.ZMQError as error:
            sock.close(0)
            for other in self._sockets:
                other.close(0)
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

    def shut_down(self) -> None:
        self._stop = True

    def _execute(self, actions: list[Any], now: float) -> None:
        router = self.router
        send = p.send_frames
        pending = actions
        while pending:
            more: list[Any] = []
            for action in pending:
                kind = type(action)
                if kind is Send:
                    client = self._clients[action.request]
                    try:
                        send(
                            self.back,
                            [
                                self._ident(action.backend),
                                p.request_header(action.attempt),
                                client[1],
                                client[2],
                            ],
                            True,
                        )
                    except zmq.ZMQError:  # EHOSTUNREACH: not connected; EAGAIN: full
                        more.extend(router.on_send_failed(now, action.attempt))
                elif kind is Arm:
                    heapq.heappush(self._timers, (action.at, next(self._seq), action.timer))
                elif kind is Reply:
                    envelope = self._clients.pop(action.request)[0]
                    status = action.status
                    payload = self._payload if status in ("ok", "error") else b""
                    send(self.front, [*envelope, status.encode(), action.backend.encode(), payload])
                    self.answered += 1
                elif kind is Cancel:
                    self._send_backend(action.backend, [p.CANCEL, p.pack_id(action.attempt)])
                elif kind is Probe:
                    self._send_backend(action.backend, [p.PROBE, p.pack_id(0)])
            pending = more

    def _ident(self, backend_id: str) -> bytes:
        ident = self._ids.get(backend_id)
        if ident is None:
            ident = self._ids[backend_id] = backend_id.encode()
        return ident

    def _send_backend(self, backend_id: str, frames: list[bytes]) -> bool:
        try:
            p.send_frames(self.back, [self._ident(backend_id), *frames], True)
            return True
        except zmq.ZMQError:
            return False

    # ------------------------------------------------------------------ inbound

    def _on_frontend(self, frames: list[bytes], now: float) -> None:
        self.received += 1
        try:
            envelope, body = p.split_envelope(frames)
            key, payload = p.parse_request_body(body)
        except p.ProtocolError:
            self.malformed += 1
            envelope = [frames[0], b""] if frames and frames[0] else frames[:1]
            if envelope:
                self.front.send_multipart([*envelope, MALFORMED.encode(), b"", b""])
            return
        if self._draining:
            self.front.send_multipart([*envelope, b"unavailable", b"", b""])
            return
        rid = next(self._rids)
        self._clients[rid] = (envelope, key or b"", payload)
        self._execute(self.router.on_request(now, rid, key), now)

    def _on_backend(self, frames: list[bytes], now: float) -> None:
        if len(frames) < 2:
            return
        sender = frames[0].decode(errors="replace")
        command = frames[1]
        router = self.router
        state = router.backends.get(sender)
        self.silence.heard(sender, now)
        if command[:3] == p.REP and len(frames) == 3:
            if state is None or not state.joined:
                self._send_backend(sender, [p.WHO])
                return
            try:
                attempt, ok = p.parse_reply_header(command)
            except p.ProtocolError:
                return
            self._payload = frames[2]
            self._execute(router.on_reply(now, attempt, ok, sender), now)
            self._payload = b""
        elif command == p.HB:
            if state is None or not state.joined:
                self._send_backend(sender, [p.WHO])
            else:
                router.on_heartbeat(now, sender)
        elif command == p.READY and len(frames) == 3:
            try:
                backend = backend_from_ready(sender, frames[2], self.known)
            except (p.ProtocolError, LbbenchError) as error:
                print(f"balancer: ignored READY from {sender!r}: {error}", file=sys.stderr)
                return
            self._execute(router.on_join(now, backend), now)
        elif command == p.PROBED and len(frames) == 5:
            try:
                in_flight, latency = p.unpack_probe_reply(frames[3], frames[4])
            except p.ProtocolError:
                return
            router.on_probe_reply(now, sender, in_flight, latency)
        elif command == p.BYE:
            self.silence.forget(sender)
            self._execute(router.on_leave(now, sender, "said goodbye"), now)

    def _forget_the_silent(self, now: float) -> None:
        """Joined targets not heard from for a while left without a word: take them out."""
        joined = [b.id for b in self.router.backends.values() if b.joined]
        for peer, since in self.silence.silent(joined, now):
            self.silence.forget(peer)
            self._execute(self.router.on_leave(now, peer, f"silent for {since:.1f} s"), now)

    # ------------------------------------------------------------------ control

    def stats(self, now: float) -> dict[str, Any]:
        snapshot = self.router.snapshot()
        snapshot.update(
            {
                "now": now,
                "uptime_s": now - self.started,
                "received": self.received,
                "answered": self.answered,
                "malformed": self.malformed,
                "events_total": len(self.router.events),
                "endpoints": self.endpoints,
                "settings": resolved(self.router.config),
            }
        )
        return snapshot

    # ------------------------------------------------------------------ loop

    def stop(self, *_: Any) -> None:
        """Stop taking requests; answer or time out those in flight, then exit."""
        if not self._draining:
            self._draining = True
            self._drain_deadline = time.monotonic() + self.router.config.deadline_s + 0.5

    def run(self) -> int:
        router = self.router
        self._execute(router.start(time.monotonic()), time.monotonic())
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        poller.register(self.back, zmq.POLLIN)
        if self.ctl is not None:
            poller.register(self.ctl, zmq.POLLIN)
        back, ctl = self.back, self.ctl
        timers = self._timers
        next_heartbeat = time.monotonic() + self.heartbeat_s
        monotonic = time.monotonic
        receive = p.recv_frames
        while not self._stop:
            now = monotonic()
            if self._draining and (router.pending == 0 or now >= self._drain_deadline):
                break
            due = next_heartbeat
            if timers and timers[0][0] < due:
                due = timers[0][0]
            wait = (due - now) * 1e3
            ready = poller.poll(wait if wait > 0 else 0)
            for sock, _ in ready:
                if sock is ctl:
                    request = ctl.recv_multipart()  # all of it: a REP socket takes one message
                    ctl.send(p.encode_json(control.answer(self, request, monotonic())))
                    continue
                handler = self._on_backend if sock is back else self._on_frontend
                for _ in range(_BATCH):
                    try:
                        frames = receive(sock)
                    except zmq.Again:
                        break
                    handler(frames, monotonic())
            now = monotonic()
            while timers and timers[0][0] <= now:
                _, _, timer = heapq.heappop(timers)
                self._execute(router.on_timer(now, timer), now)
            if now >= next_heartbeat:
                for state in router.backends.values():
                    if state.joined:
                        self._send_backend(state.id, [p.HB])
                self._forget_the_silent(now)
                next_heartbeat = now + self.heartbeat_s
        left = router.pending
        # Whatever is still pending when we go is answered, never dropped silently.
        for rid in list(self._clients):
            envelope = self._clients.pop(rid)[0]
            self.front.send_multipart([*envelope, b"unavailable", b"", b""])
        print(
            f"balancer: stopped; received {self.received}, answered {self.answered}, "
            f"answered unavailable at exit {left}, malformed {self.malformed}",
            file=sys.stderr,
        )
        self.close()
        return 0

    def close(self) -> None:
        for sock in self._sockets:
            sock.close(0)
        self._sockets = []


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
