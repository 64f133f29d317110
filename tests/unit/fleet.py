"""A deterministic fleet for driving the Router in tests, on an injected clock.

Each fake backend serves ``capacity`` attempts at once (the rest queue in
order), takes a service time from its own function, and behaves as told:
``ok`` answers, ``error`` answers with a fault, ``hang`` accepts and never
answers, ``silent`` is like hang and also stops heartbeats (a crash), and
a backend can be switched between them at any simulated time. The fleet
executes every action the router returns (sends, cancels, timers, probes,
replies) and records them, so tests assert on what really happened.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lbbench.core.router import Arm, Cancel, Probe, Reply, Router, Send

ServiceTime = Callable[[random.Random], float]


def fixed(seconds: float) -> ServiceTime:
    return lambda rng: seconds


def exponential(mean: float) -> ServiceTime:
    return lambda rng: rng.expovariate(1.0 / mean)


@dataclass
class FakeBackend:
    id: str
    service: ServiceTime
    capacity: int = 1_000_000
    mode: str = "ok"  # ok, error, hang, silent
    busy: int = 0
    queue: deque[int] = field(default_factory=deque)
    cancelled: set[int] = field(default_factory=set)
    latency_ewma: float = 0.0


class Fleet:
    """Runs a Router against fake backends, event by event, in simulated time."""

    def __init__(
        self,
        router: Router,
        backends: dict[str, FakeBackend],
        *,
        seed: int = 1,
        heartbeat_s: float = 0.05,
    ) -> None:
        self.router = router
        self.backends = backends
        self.rng = random.Random(seed)
        self.heartbeat_s = heartbeat_s
        self.now = 0.0
        self._heap: list[tuple[float, int, str, object]] = []
        self._seq = itertools.count()
        self.sends: list[tuple[float, Send]] = []
        self.cancels: list[Cancel] = []
        self.replies: dict[int, list[Reply]] = defaultdict(list)
        self.reply_at: dict[int, float] = {}
        self.sent_at: dict[int, float] = {}
        self.attempts_of: dict[int, list[Send]] = defaultdict(list)
        self._next_rid = itertools.count()
        self._apply(router.start(0.0))
        for backend_id in backends:
            self._push(heartbeat_s * self.rng.random(), "heartbeat", backend_id)

    # ---------------------------------------------------------------- driving

    def _push(self, at: float, kind: str, payload: object) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, payload))

    def request(self, at: float, key: bytes | None = None) -> int:
        rid = next(self._next_rid)
        self._push(at, "request", (rid, key))
        return rid

    def poisson(self, rate: float, until: float, start: float = 0.0, keys=None) -> list[int]:
        """Schedule Poisson arrivals at ``rate`` per second in [start, until)."""
        rids = []
        t = start
        while True:
            t += self.rng.expovariate(rate)
            if t >= until:
                return rids
            key = None if keys is None else keys(self.rng)
            rids.append(self.request(t, key))

    def at(self, when: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` (e.g. change a backend's mode) at simulated time ``when``."""
        self._push(when, "call", fn)

    def run(self, until: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= until:
            at, _, kind, payload = heapq.heappop(heap)
            self.now = at
            self._handle(kind, payload)
        self.now = until

    def drain(self, limit: float = 1_000.0) -> None:
        """Run until every request is answered (timers included), bounded by ``limit``."""
        while self.router.pending and self._heap and self._heap[0][0] <= limit:
            self.run(self._heap[0][0])

    # ---------------------------------------------------------------- events

    def _handle(self, kind: str, payload) -> None:
        router = self.router
        now = self.now
        if kind == "request":
            rid, key = payload
            self.sent_at[rid] = now
            self._apply(router.on_request(now, rid, key))
        elif kind == "timer":
            self._apply(router.on_timer(now, payload))
        elif kind == "done":
            backend_id, send = payload
            backend = self.backends[backend_id]
            backend.busy -= 1
            self._start_next(backend)
            if backend.mode in ("hang", "silent") or send.attempt in backend.cancelled:
                return
            self._apply(router.on_reply(now, send.attempt, backend.mode == "ok"))
        elif kind == "heartbeat":
            backend = self.backends[payload]
            if backend.mode != "silent":
                router.on_heartbeat(now, payload)
            self._push(now + self.heartbeat_s, "heartbeat", payload)
        elif kind == "probe":
            backend = self.backends[payload]
            if backend.mode != "silent":
                router.on_probe_reply(
                    now, payload, backend.busy + len(backend.queue), backend.latency_ewma
                )
        elif kind == "call":
            payload()
        else:
            raise AssertionError(kind)

    def _apply(self, actions) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.sends.append((self.now, action))
                self.attempts_of[action.request].append(action)
                backend = self.backends[action.backend]
                backend.queue.append(action)
                self._start_next(backend)
            elif isinstance(action, Arm):
                self._push(action.at, "timer", action.timer)
            elif isinstance(action, Reply):
                self.replies[action.request].append(action)
                self.reply_at[action.request] = self.now
            elif isinstance(action, Cancel):
                self.cancels.append(action)
                self.backends[action.backend].cancelled.add(action.attempt)
            elif isinstance(action, Probe):
                self._push(self.now + 0.0001, "probe", action.backend)
            else:
                raise AssertionError(action)

    def _start_next(self, backend: FakeBackend) -> None:
        while backend.queue and backend.busy < backend.capacity:
            send = backend.queue.popleft()
            if send.attempt in backend.cancelled:
                continue  # cancelled while queued: never served
            backend.busy += 1
            service = backend.service(self.rng)
            backend.latency_ewma += 0.1 * (service * (backend.busy) - backend.latency_ewma)
            self._push(self.now + service, "done", (backend.id, send))

    # ---------------------------------------------------------------- views

    def status_of(self, rid: int) -> str:
        (reply,) = self.replies[rid]
        return reply.status

    def outcome_counts(self) -> Counter[str]:
        return Counter(r.status for rs in self.replies.values() for r in rs)

    def sends_to(self, backend_id: str, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(1 for t, s in self.sends if s.backend == backend_id and since <= t < until)

    def shares(self, since: float = 0.0, until: float = float("inf")) -> dict[str, float]:
        counts = Counter(s.backend for t, s in self.sends if since <= t < until)
        total = sum(counts.values())
        return {b: counts[b] / total for b in self.backends} if total else {}
