"""The pure decision core: the lifecycle of requests and attempts, health, strategy and failover.

Events go in (a request arrived, a reply arrived, a timer fired, a
heartbeat or probe reply was seen, a backend joined or left, a send could
not be delivered); actions come out (``lbbench.core.actions``: send an
attempt to a backend, cancel one, arm a timer, probe a backend, answer the
client). The router never touches a socket or a clock: every event
carries ``now`` (seconds, any monotonic origin) and randomness comes from
the injected ``rng``. The live balancer, the simulator and the tests drive
this same class.

The router keeps what every request goes through: its deadline, its
attempts, picking a backend (the strategy, over pools of eligible
backends), the answer. Everything else is a failover policy's
(``lbbench.core.failover``): the router calls the hooks of the policies in
force and knows none of them by name.

Invariants (checked by the property tests):
- every request id ends with exactly one Reply, whose status is one of
  ``lbbench.vocabulary.OUTCOMES``;
- a backend's in-flight count is the number of its attempts still live,
  never negative;
- no Send goes to an unknown, departed, ejected or open-circuit backend.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from lbbench.core.actions import Action, Arm, Cancel, HealthEvent, Probe, Reply, Send, Timer
from lbbench.core.backends import Backend, BackendState, check_unique_ids
from lbbench.core.composition import Composition
from lbbench.core.config import RouterConfig
from lbbench.core.failover import FailoverPolicy
from lbbench.core.pools import PoolSet, build_pools, choose
from lbbench.core.records import RIF_CAP, Attempt, Request, RouterStats
from lbbench.core.strategies import make_strategy
from lbbench.core.views import health_word
from lbbench.vocabulary import ERROR, OK, OVERLOADED, TIMEOUT, UNAVAILABLE, Health

DEADLINE = "deadline"  # a request's own deadline (always arrival + deadline_s: in order)


class _Deadlines:
    """The owner of deadline timers: the one timer the router arms for itself."""

    __slots__ = ("router",)

    def __init__(self, router: Router) -> None:
        self.router = router

    def on_timer(self, timer: Timer, now: float) -> None:
        request: Request = timer.ref
        if request.done:
            return
        router = self.router
        for record in request.attempts:
            if not record.done:
                router._abandon(record, now, TIMEOUT)
        router.finish(request, now, TIMEOUT, "")


class Router:
    """Routes requests to backends under one strategy and a set of failover policies."""

    def __init__(
        self,
        config: RouterConfig,
        backends: Iterable[Backend] = (),
        *,
        rng: random.Random,
        event_log: int = 10_000,
        attempt_ids: Iterator[int] | None = None,
        listing: Sequence[str] = (),
    ) -> None:
        """``attempt_ids`` gives the ids of attempts (default 0, 1, 2, ...); the live
        balancer draws them at random, so that no peer can guess another's.
        ``listing``: the order in which this router lists the backends whatever order
        they join in (ids it does not name follow, in the order they joined). Order
        matters to order-bound rules (round robin's turn, least connections' ties):
        several balancers sharing a fleet each list it in an order of their own, and
        the live balancer lists it as the simulated one does."""
        self.rng = rng
        self._rank = {backend_id: place for place, backend_id in enumerate(listing)}
        self.backends: dict[str, BackendState] = {}
        self.hooks = Composition()
        self._deadlines = _Deadlines(self)
        self._out: list[Action] = []
        self._local_view = True  # load-aware strategies read the router's own counts
        self._configure(config)
        self._requests: dict[int, Request] = {}
        self._attempts: dict[int, Attempt] = {}
        self._attempt_ids = attempt_ids if attempt_ids is not None else itertools.count()
        self._joined: tuple[BackendState, ...] = ()
        self._pools = PoolSet([], [], 0, False)
        self._dirty = True
        self._membership_changed = True
        self.panic = False
        self._now = 0.0  # time of the latest event, for records made while rebuilding
        self.stats = RouterStats()
        self.events: deque[HealthEvent] = deque(maxlen=event_log)
        backends = list(backends)
        check_unique_ids(backends)
        for backend in backends:
            self._add(backend, 0.0)

    # ------------------------------------------------------------ configuration

    def _configure(self, config: RouterConfig) -> list[FailoverPolicy]:
        """Take ``config``; return the policies that came into force (to start)."""
        old = getattr(self, "config", None)
        self.config = config
        if old is None or (old.strategy, old.strategy_options) != (
            config.strategy,
            config.strategy_options,
        ):
            self.strategy = make_strategy(config.strategy, self.rng, config.strategy_options)
        hooks = self.hooks
        started = hooks.take(config.failover, self)
        # The hooks of the hot paths, where an attribute lookup per event shows.
        self._accepts = hooks.accepts
        self._on_request = hooks.on_request
        self._on_dispatched = hooks.on_dispatched
        self._on_send = hooks.on_send
        self._on_done = hooks.on_attempt_done
        local = config.view != "reports"
        if local and not self._local_view:
            for backend in self.backends.values():  # back to its own counts
                backend.load = backend.in_flight
        self._local_view = local
        self._membership_changed = self._dirty = True
        return started

    def reconfigure(self, now: float, config: RouterConfig) -> list[Action]:
        """Switch strategy, failover modes or settings at run time.

        Requests in flight finish under the new rules; counters and backend
        state are kept, and so is the state of every mode that stays on with
        the same settings. A mode switched off stops deciding (its timers
        still come back to it, so nothing in flight is stranded); one
        switched on starts (eject: its heartbeat checks).
        """
        self._now = now
        out = self._out = []
        for policy in self._configure(config):
            policy.start(now)
        return out

    @property
    def policies(self) -> list[FailoverPolicy]:
        """The failover policies in force, in the order their hooks run."""
        return self.hooks.policies

    @property
    def in_order_timers(self) -> frozenset[str]:
        """Timer kinds that come due in the order they are armed (deadlines, per-try timeouts)."""
        return self.hooks.in_order_timers | {DEADLINE}

    @property
    def needs_heartbeats(self) -> bool:
        """Whether any policy in force reads heartbeats (drivers may skip them otherwise)."""
        return self.hooks.needs_heartbeats

    def policy(self, name: str) -> FailoverPolicy | None:
        """The policy of mode ``name`` in force, if any."""
        return self.hooks.policy(name)

    # ------------------------------------------------------------ public events

    def start(self, now: float) -> list[Action]:
        """Bring the policies into force (periodic work such as heartbeat checks); call once."""
        out = self._out = []
        for policy in self.policies:
            policy.start(now)
        return out

    def on_request(
        self, now: float, rid: int, key: bytes | None = None, arrived: float | None = None
    ) -> list[Action]:
        """A client request ``rid`` (unique among pending ones) arrived.

        ``arrived``: when the balancer read it, if it waited before reaching
        the router (the balancer's inbox); its deadline counts from then.
        """
        self._now = now
        out = self._out = []
        stats = self.stats
        stats.requests += 1
        if rid in self._requests:
            raise ValueError(f"request id {rid} is already pending")
        accepts = self._accepts  # admission control, when a mode does it
        if len(self._requests) >= self.config.max_pending or (
            accepts and not all(accept(now) for accept in accepts)
        ):
            stats.outcomes[OVERLOADED] += 1
            out.append(Reply(rid, OVERLOADED, ""))
            return out
        deadline = (now if arrived is None else arrived) + self.config.deadline_s
        request = Request(rid, key, now, deadline)
        self._requests[rid] = request
        for hook in self._on_request:
            hook(request, now)
        if self._dirty:
            self._rebuild_pools()
        if self._pools.pools:
            for backend in self.strategy.probes(self._pools.pools[0], now):
                stats.probes += 1
                out.append(Probe(backend.id))
        if not self.send(request, now):
            self.finish(request, now, UNAVAILABLE, "")
            return out
        out.append(Arm(deadline, Timer(self._deadlines, DEADLINE, request, None)))
        for hook in self._on_dispatched:
            hook(request, now)
        return out

    def on_reply(
        self,
        now: float,
        attempt: int,
        ok: bool,
        backend_id: str | None = None,
        payload: bytes = b"",
    ) -> list[Action]:
        """The backend answered ``attempt``: ``ok`` True for success, False for a fault.

        With ``backend_id`` (who sent the reply), a reply from any backend but
        the one the attempt went to is refused and counted as foreign. ``payload``
        goes back to the client on the ``Reply`` if this reply is the answer.
        """
        self._now = now
        record = self._attempts.get(attempt)
        if record is None:
            self.stats.late_replies += 1  # timed out, cancelled, or never ours
            return []
        if backend_id is not None and record.backend.id != backend_id:
            self.stats.foreign_replies += 1
            return []
        out = self._out = []
        self._end_attempt(record, now, OK if ok else ERROR)
        request = record.request
        request.status_payload = payload
        if ok:
            self.finish(request, now, OK, record.backend.id)
        else:
            request.status = ERROR
            request.status_backend = record.backend.id
            if request.live == 0:
                self._failover(request, now)
        return out

    def on_send_failed(self, now: float, attempt: int) -> list[Action]:
        """The transport could not deliver ``attempt`` (e.g. the backend is disconnected)."""
        self._now = now
        record = self._attempts.get(attempt)
        if record is None:
            return []
        out = self._out = []
        self._fail_attempt(record, now)
        return out

    def on_timer(self, now: float, timer: Timer) -> list[Action]:
        """A timer armed earlier fired (possibly stale: then nothing happens)."""
        self._now = now
        out = self._out = []
        timer.owner.on_timer(timer, now)
        return out

    def on_heartbeat(self, now: float, backend_id: str) -> list[Action]:
        """A heartbeat from ``backend_id`` arrived (unknown ids are ignored)."""
        self._now = now
        out = self._out = []
        backend = self.backends.get(backend_id)
        if backend is not None and backend.joined:
            for hook in self.hooks.on_heartbeat:
                hook(backend, now)
        return out

    def on_load_report(self, now: float, loads: Mapping[str, int]) -> None:
        """Backends reported their load (requests in their system, from every balancer):
        under view "reports", what load-aware strategies read of each until its next
        report. Unknown ids are ignored (a report may outlive its backend)."""
        if self._local_view:
            return
        backends = self.backends
        for backend_id, load in loads.items():
            backend = backends.get(backend_id)
            if backend is not None:
                backend.load = load

    def on_probe_reply(
        self, now: float, backend_id: str, in_flight: int, latency: float
    ) -> list[Action]:
        """A probed backend reported its requests in flight and its latency (seconds)."""
        self._now = now
        out = self._out = []
        backend = self.backends.get(backend_id)
        if backend is not None and backend.joined:
            self.strategy.on_probe(backend, in_flight, latency, now)
        return out

    def on_join(self, now: float, backend: Backend) -> list[Action]:
        """A backend announced itself (new, back after leaving, or with new metadata)."""
        self._now = now
        out = self._out = []
        self._add(backend, now)
        return out

    def on_leave(self, now: float, backend_id: str, detail: str = "") -> list[Action]:
        """A backend went away: its live attempts fail over and it gets nothing more."""
        self._now = now
        out = self._out = []
        backend = self.backends.get(backend_id)
        if backend is None or not backend.joined:
            return out
        backend.joined = False
        for hook in self.hooks.on_leave:
            hook(backend, now)
        self._membership_changed = self._dirty = True
        self.note(now, backend, Health.LEAVE, detail)
        for record in [a for a in self._attempts.values() if a.backend is backend]:
            if not record.done:
                self._fail_attempt(record, now)
        return out

    # ------------------------------------------------------------ for policies

    def arm(self, at: float, owner: Any, kind: str, ref: Any, tag: Any = None) -> None:
        """Have ``owner.on_timer(timer, now)`` called once the clock reaches ``at``."""
        self._out.append(Arm(at, Timer(owner, kind, ref, tag)))

    def count(self, name: str) -> None:
        """One more of a failover counter (``lbbench.vocabulary.Counter``)."""
        self.stats.counters[name] += 1

    def note(self, now: float, backend: BackendState, kind: str, detail: str) -> None:
        """Record a health event of ``backend``."""
        self.events.append(HealthEvent(now, backend.id, kind, detail))

    def pools_changed(self) -> None:
        """Some backend's eligibility changed: rebuild the pools before the next pick."""
        self._dirty = True

    @property
    def joined(self) -> tuple[BackendState, ...]:
        """Every joined backend, as of the latest pool rebuild (``refresh_pools``)."""
        return self._joined

    def refresh_pools(self) -> None:
        if self._dirty:
            self._rebuild_pools()

    def send(self, request: Request, now: float, extra: bool = False) -> bool:
        """Send an attempt of ``request`` to a backend the strategy picks; False if none.

        ``extra`` marks an attempt sent while another is still out (a hedge).
        """
        backend = self._choose(request, now)
        if backend is None:
            return False
        aid = next(self._attempt_ids)
        while aid in self._attempts:  # a drawn id may repeat, however rarely
            aid = next(self._attempt_ids)
        record = Attempt(aid, request, backend, now, extra)
        self._attempts[aid] = record
        request.attempts.append(record)
        request.last = backend
        request.live += 1
        if not extra:
            request.tries += 1
        in_flight = backend.in_flight = backend.in_flight + 1
        if self._local_view:
            backend.load = in_flight
        pool = backend.pool
        if pool is not None:
            pool.in_flight += 1
        backend.sent += 1
        self.strategy.on_send(backend, now)
        stats = self.stats
        stats.attempts += 1
        stats.rif[in_flight if in_flight < RIF_CAP else RIF_CAP] += 1
        self._out.append(Send(aid, request.rid, backend.id, extra))
        for hook in self._on_send:
            hook(record, now)
        return True

    def time_out(self, attempt: Attempt, now: float) -> None:
        """Give up on one attempt (its own timeout): cancel it and fail over if it was the last."""
        self._abandon(attempt, now, TIMEOUT)
        request = attempt.request
        request.status = TIMEOUT
        request.status_backend = ""
        if request.live == 0:
            self._failover(request, now)

    def finish(
        self, request: Request, now: float, status: str | None = None, backend_id: str | None = None
    ) -> None:
        """Answer ``request`` (by default with its latest failure) and cancel what is still out."""
        if status is None:
            status, backend_id = request.status, request.status_backend
        request.done = True
        del self._requests[request.rid]
        if request.live:
            for record in request.attempts:
                if not record.done:
                    self._abandon(record, now, None)
        # A request and its attempts point at each other; cutting the cycle
        # here frees them by reference counting at once, instead of leaving
        # millions of them to the cyclic garbage collector (pauses in the
        # balancer, most of the simulator's time at scale).
        request.attempts.clear()
        self.stats.outcomes[status] += 1
        payload = request.status_payload if status in (OK, ERROR) else b""
        self._out.append(Reply(request.rid, status, backend_id or "", payload))

    # ------------------------------------------------------------ views

    @property
    def pending(self) -> int:
        """Requests received and not yet answered."""
        return len(self._requests)

    def health_of(self, backend: BackendState) -> str:
        """One word for people: left, ejected, down, open, half_open or healthy."""
        return health_word(backend, self.hooks.health)

    def snapshot(self) -> dict[str, Any]:
        """Counters, health and strategy state: the balancer's ``stats`` answer, and what
        results are built from (``lbbench.results.trial.RouterView``)."""
        backends = []
        for b in self.backends.values():
            row = {
                "id": b.id,
                "weight": b.weight,
                "tier": b.tier,
                "health": self.health_of(b),
                "in_flight": b.in_flight,
                # what load-aware strategies read of it: in_flight, or its last report
                "load": b.load,
                "sent": b.sent,
                "ok": b.ok,
                "errors": b.errors,
                "timeouts": b.timeouts,
                "cancelled": b.cancelled,
                "latency_ewma_s": b.latency_ewma,
            }
            for describe in self.hooks.describe:
                row.update(describe(b))
            backends.append(row)
        return {
            "strategy": self.config.strategy,
            "failover": self.config.failover.label,
            "pending": self.pending,
            "panic": self.panic,
            "stats": self.stats.as_dict(),
            "rif_counts": self.stats.rif_counts(),
            "strategy_status": self.strategy.status(),
            "failover_status": {p.name: p.status() for p in self.policies if p.status()},
            "backends": backends,
        }

    # ------------------------------------------------------------ membership and pools

    def _add(self, backend: Backend, now: float) -> None:
        state = self.backends.get(backend.id)
        if state is None:
            state = BackendState(backend)
            self.backends[backend.id] = state
        elif state.joined and state.backend == backend:
            for hook in self.hooks.on_heartbeat:  # announcing itself again is a sign of life
                hook(state, now)
            return
        else:
            state.backend = backend
            state.weight = backend.weight
            state.tier = backend.tier
        state.joined = True
        for hook in self.hooks.on_join:
            hook(state, now)
        self._membership_changed = self._dirty = True
        self.note(now, state, Health.JOIN, f"weight {backend.weight} tier {backend.tier}")

    def _rebuild_pools(self) -> None:
        self._dirty = False
        if self._membership_changed:
            self._membership_changed = False
            rank = self._rank
            joined_now = [b for b in self.backends.values() if b.joined]
            if rank:
                last = len(rank)
                joined_now.sort(key=lambda b: rank.get(b.backend.id, last))
            self._joined = tuple(joined_now)
        hooks = self.hooks
        joined = self._joined
        pools = build_pools(
            joined, hooks.admits, hooks.healthy, hooks.partition, self.config.panic_threshold
        )
        if pools.panic != self.panic:
            self.panic = pools.panic
            if pools.panic:
                self.stats.panics += 1
            self.events.append(
                HealthEvent(
                    self._now,
                    "",
                    Health.PANIC if pools.panic else Health.CALM,
                    f"{pools.healthy} of {len(joined)} healthy",
                )
            )
        self._pools = pools

    # ------------------------------------------------------------ attempts

    def _choose(self, request: Request, now: float) -> BackendState | None:
        if self._dirty:
            self._rebuild_pools()
        return choose(self._pools.in_order(self.rng.random), self.strategy, request, now)

    def _abandon(self, record: Attempt, now: float, outcome: str | None) -> None:
        """End an attempt still out (with ``outcome``, None: cancelled) and tell its backend."""
        self._end_attempt(record, now, outcome)
        self._out.append(Cancel(record.aid, record.request.rid, record.backend.id))

    def _end_attempt(self, record: Attempt, now: float, outcome: str | None) -> None:
        """Close one attempt: outcome OK, ERROR, TIMEOUT, UNAVAILABLE, or None if cancelled."""
        record.done = True
        del self._attempts[record.aid]
        backend = record.backend
        backend.in_flight -= 1
        if self._local_view:
            backend.load = backend.in_flight
        pool = backend.pool
        if pool is not None:
            pool.in_flight -= 1
        record.request.live -= 1
        if outcome is None:
            backend.cancelled += 1
            self.stats.cancelled += 1
            for hook in self.hooks.on_attempt_cancelled:
                hook(record, now)
            return
        latency = now - record.sent_at
        ok = outcome == OK
        if ok:
            backend.ok += 1
            backend.observe_latency(latency, now)
        elif outcome == TIMEOUT:
            backend.timeouts += 1
        else:
            backend.errors += 1
        for hook in self._on_done:
            hook(record, outcome, latency, now)
        self.strategy.on_done(backend, latency, ok, now)

    def _fail_attempt(self, record: Attempt, now: float) -> None:
        """An attempt could not reach its backend (send failed, backend left)."""
        self._end_attempt(record, now, UNAVAILABLE)
        request = record.request
        if request.status != ERROR:
            request.status = UNAVAILABLE
            request.status_backend = ""
        if request.live == 0:
            self._failover(request, now)

    def _failover(self, request: Request, now: float) -> None:
        """Every attempt of ``request`` failed: a policy takes it over, or it is answered."""
        for hook in self.hooks.on_failure:
            if hook(request, now):
                return
        self.finish(request, now)
