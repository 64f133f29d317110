"""The pure decision core: health, strategy and failover composed into one state machine.

Events go in (a request arrived, a reply arrived, a timer fired, a
heartbeat or probe reply was seen, a backend joined or left, a send could
not be delivered); actions come out (send an attempt to a backend, cancel
one, arm a timer, probe a backend, answer the client). The router never
touches a socket or a clock: every event carries ``now`` (seconds, any
monotonic origin) and randomness comes from the injected ``rng``. The
live balancer, the simulator and the tests drive this same class.

Invariants (checked by the property tests):
- every request id ends with exactly one Reply, whose status is one of
  ``lbbench.outcomes.OUTCOMES``;
- a backend's in-flight count is the number of its attempts still live,
  never negative;
- no Send goes to an unknown, departed, ejected or open-circuit backend.

Timers are never cancelled: when one fires after the thing it guarded is
over, the router ignores it. That keeps the event loop a plain heap.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any, NamedTuple

from lbbench.backends import Backend, BackendState, check_unique_ids
from lbbench.config import RouterConfig
from lbbench.failover import HedgeDelay, RetryBudget, jittered_backoff
from lbbench.health import (
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    ejection_seconds,
    heartbeat_verdict,
    may_eject,
    tier_loads,
)
from lbbench.outcomes import ERROR, OK, OUTCOMES, OVERLOADED, TIMEOUT, UNAVAILABLE
from lbbench.strategies import Pool, make_strategy

# ---------------------------------------------------------------- actions


class Send(NamedTuple):
    """Send attempt ``attempt`` of request ``request`` to ``backend``."""

    attempt: int
    request: int
    backend: str
    hedge: bool


class Cancel(NamedTuple):
    """Attempt ``attempt`` is abandoned (lost a hedge race, timed out): tell the backend."""

    attempt: int
    request: int
    backend: str


class Reply(NamedTuple):
    """Answer the client of ``request`` with ``status`` (backend empty if none answered)."""

    request: int
    status: str
    backend: str


class Timer(NamedTuple):
    """A timer the router wants back through ``on_timer`` (``tag`` tells stale ones)."""

    kind: str
    ref: Any
    tag: Any


class Arm(NamedTuple):
    """Call ``on_timer(at, timer)`` once the clock reaches ``at``."""

    at: float
    timer: Timer


class Probe(NamedTuple):
    """Ask ``backend`` for its requests in flight and latency (probing strategies)."""

    backend: str


Action = Send | Cancel | Reply | Arm | Probe

# timer kinds
TRY = "try"
DEADLINE = "deadline"
HEDGE = "hedge"
BACKOFF = "backoff"
TICK = "tick"
UNEJECT = "uneject"
BREAKER = "breaker"


class HealthEvent(NamedTuple):
    """A change in a backend's health, for failover timing and timelines."""

    at: float
    backend: str
    kind: str  # join leave eject uneject down up open half_open closed panic calm
    detail: str


# ---------------------------------------------------------------- records


class _Request:
    __slots__ = (
        "arrived",
        "attempts",
        "deadline",
        "done",
        "hedged",
        "key",
        "last",
        "live",
        "rid",
        "status",
        "status_backend",
        "tries",
        "waiting",
    )

    def __init__(self, rid: int, key: bytes | None, now: float, deadline: float) -> None:
        self.rid = rid
        self.key = key
        self.arrived = now
        self.deadline = deadline
        self.attempts: list[_Attempt] = []
        self.last: BackendState | None = None
        self.live = 0
        self.tries = 0
        self.status = UNAVAILABLE
        self.status_backend = ""
        self.hedged = False
        self.waiting = False
        self.done = False


class _Attempt:
    __slots__ = ("aid", "backend", "done", "hedge", "request", "sent_at", "trial")

    def __init__(
        self,
        aid: int,
        request: _Request,
        backend: BackendState,
        now: float,
        hedge: bool,
        trial: bool,
    ) -> None:
        self.aid = aid
        self.request = request
        self.backend = backend
        self.sent_at = now
        self.hedge = hedge
        self.trial = trial
        self.done = False


class RouterStats:
    """Counters over the router's life (outcomes by status, attempts, failover work)."""

    __slots__ = (
        "attempts",
        "budget_exhausted",
        "cancelled",
        "ejections",
        "ejections_blocked",
        "hedge_wins",
        "hedges",
        "late_replies",
        "outcomes",
        "panics",
        "probes",
        "requests",
        "retries",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.outcomes: Counter[str] = Counter({status: 0 for status in OUTCOMES})
        self.attempts = 0
        self.retries = 0
        self.hedges = 0
        self.hedge_wins = 0
        self.cancelled = 0
        self.late_replies = 0
        self.budget_exhausted = 0
        self.ejections = 0
        self.ejections_blocked = 0
        self.panics = 0
        self.probes = 0

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__ if name != "outcomes"}
        data["outcomes"] = dict(self.outcomes)
        return data


_NOTHING: frozenset[BackendState] = frozenset()


class Router:
    """Routes requests to backends under one strategy and a set of failover modes."""

    def __init__(
        self,
        config: RouterConfig,
        backends: Iterable[Backend] = (),
        *,
        rng: random.Random,
        event_log: int = 10_000,
    ) -> None:
        self.rng = rng
        self.backends: dict[str, BackendState] = {}
        self._eject = None
        self._tick_chain = 0
        self._configure(config)
        self._requests: dict[int, _Request] = {}
        self._attempts: dict[int, _Attempt] = {}
        self._next_attempt = 0
        self._joined: tuple[BackendState, ...] = ()
        self._universes: dict[int, tuple[BackendState, ...]] = {}
        self._pools: list[Pool] = []
        self._cumulative: list[float] = []
        self._dirty = True
        self._membership_changed = True
        self._ejected = 0
        self.panic = False
        self._now = 0.0  # time of the latest event, for records made while rebuilding
        self.stats = RouterStats()
        self.events: deque[HealthEvent] = deque(maxlen=event_log)
        backends = list(backends)
        check_unique_ids(backends)
        for backend in backends:
            self._add(backend, 0.0)

    def _configure(self, config: RouterConfig) -> None:
        old = getattr(self, "config", None)
        self.config = config
        if old is None or (old.strategy, old.strategy_options) != (
            config.strategy,
            config.strategy_options,
        ):
            self.strategy = make_strategy(config.strategy, self.rng, config.strategy_options)
        failover = config.failover
        had_eject = self._eject is not None
        self._retry = failover.retry if failover.has("retry") else None
        self._hedge = failover.hedge if failover.has("hedge") else None
        self._eject = failover.eject if failover.has("eject") else None
        self._breaker = failover.circuit_breaker if failover.has("circuit_breaker") else None
        self._tiers = failover.primary_backup if failover.has("primary_backup") else None
        self._try_timeout = self._retry.per_try_timeout_s if self._retry else None
        self._retry_budget = (
            RetryBudget(
                self._retry.budget_ratio,
                self._retry.budget_min_retries,
                self._retry.budget_window_s,
            )
            if self._retry
            else None
        )
        self._hedge_budget = RetryBudget(self._hedge.budget_ratio, 1, 10.0) if self._hedge else None
        self._hedge_delay = HedgeDelay(self._hedge) if self._hedge else None
        for backend in self.backends.values():
            if self._breaker is None:
                backend.breaker = None
            elif backend.breaker is None or backend.breaker.config != self._breaker:
                backend.breaker = CircuitBreaker(self._breaker)
            if had_eject and self._eject is None:
                # Health verdicts belong to eject: without it, nobody is out.
                backend.ejected = False
                backend.hb_up = True
        if had_eject and self._eject is None:
            self._ejected = 0
        self._membership_changed = self._dirty = True

    def reconfigure(self, now: float, config: RouterConfig) -> list[Action]:
        """Switch strategy or failover modes at run time.

        Requests in flight finish under the new rules; counters and backend
        state are kept. Turning eject on starts its heartbeat checks.
        """
        self._now = now
        had_eject = self._eject is not None
        self._configure(config)
        if self._eject is not None and not had_eject:
            return self.start(now)
        return []

    # ------------------------------------------------------------ public events

    def start(self, now: float) -> list[Action]:
        """Arm the router's periodic work (heartbeat checks); call once."""
        if self._eject is None:
            return []
        self._tick_chain += 1  # a chain armed before a reconfiguration dies out
        return [Arm(now + self._eject.heartbeat_interval_s, Timer(TICK, None, self._tick_chain))]

    def on_request(self, now: float, rid: int, key: bytes | None = None) -> list[Action]:
        """A client request ``rid`` (unique among pending ones) arrived."""
        self._now = now
        stats = self.stats
        stats.requests += 1
        if rid in self._requests:
            raise ValueError(f"request id {rid} is already pending")
        if len(self._requests) >= self.config.max_pending:
            stats.outcomes[OVERLOADED] += 1
            return [Reply(rid, OVERLOADED, "")]
        deadline = now + self.config.deadline_s
        request = _Request(rid, key, now, deadline)
        self._requests[rid] = request
        if self._retry_budget is not None:
            self._retry_budget.deposit(now)
        if self._hedge_budget is not None:
            self._hedge_budget.deposit(now)
        actions: list[Action] = []
        if self._dirty:
            self._rebuild_pools()
        if self._pools:
            for backend in self.strategy.probes(self._pools[0], now):
                stats.probes += 1
                actions.append(Probe(backend.id))
        if not self._send(request, now, actions):
            self._finish(request, UNAVAILABLE, "", now, actions)
            return actions
        actions.append(Arm(deadline, Timer(DEADLINE, request, None)))
        if self._hedge_delay is not None:
            at = now + self._hedge_delay.delay()
            if at < deadline:
                actions.append(Arm(at, Timer(HEDGE, request, None)))
        return actions

    def on_reply(self, now: float, attempt: int, ok: bool) -> list[Action]:
        """The backend answered ``attempt``: ``ok`` True for success, False for a fault."""
        self._now = now
        record = self._attempts.get(attempt)
        if record is None:
            self.stats.late_replies += 1  # timed out, cancelled, or never ours
            return []
        actions: list[Action] = []
        self._end_attempt(record, now, OK if ok else ERROR, actions)
        request = record.request
        if ok:
            if record.hedge:
                self.stats.hedge_wins += 1
            self._finish(request, OK, record.backend.id, now, actions)
        else:
            request.status = ERROR
            request.status_backend = record.backend.id
            if request.live == 0:
                self._failover(request, now, actions)
        return actions

    def on_send_failed(self, now: float, attempt: int) -> list[Action]:
        """The transport could not deliver ``attempt`` (e.g. the backend is disconnected)."""
        self._now = now
        record = self._attempts.get(attempt)
        if record is None:
            return []
        actions: list[Action] = []
        self._end_attempt(record, now, UNAVAILABLE, actions)
        request = record.request
        if request.status != ERROR:
            request.status = UNAVAILABLE
            request.status_backend = ""
        if request.live == 0:
            self._failover(request, now, actions)
        return actions

    def on_timer(self, now: float, timer: Timer) -> list[Action]:
        """A timer armed earlier fired (possibly stale: then nothing happens)."""
        self._now = now
        kind = timer.kind
        actions: list[Action] = []
        if kind == TRY:
            record: _Attempt = timer.ref
            if not record.done:
                self._end_attempt(record, now, TIMEOUT, actions)
                actions.append(Cancel(record.aid, record.request.rid, record.backend.id))
                request = record.request
                request.status = TIMEOUT
                request.status_backend = ""
                if request.live == 0:
                    self._failover(request, now, actions)
        elif kind == DEADLINE:
            request: _Request = timer.ref
            if not request.done:
                for record in request.attempts:
                    if not record.done:
                        self._end_attempt(record, now, TIMEOUT, actions)
                        actions.append(Cancel(record.aid, request.rid, record.backend.id))
                self._finish(request, TIMEOUT, "", now, actions)
        elif kind == HEDGE:
            self._hedge_now(timer.ref, now, actions)
        elif kind == BACKOFF:
            request = timer.ref
            if not request.done and request.waiting:
                request.waiting = False
                if not self._send(request, now, actions):
                    self._finish(request, request.status, request.status_backend, now, actions)
        elif kind == TICK:
            if self._eject is not None and timer.tag == self._tick_chain:
                self._tick(now, actions)
        elif kind == UNEJECT:
            self._uneject(timer.ref, timer.tag, now)
        elif kind == BREAKER:
            backend: BackendState = timer.ref
            breaker = backend.breaker
            if breaker is not None and breaker.state == OPEN and breaker.opened_at == timer.tag:
                breaker.half_open()
                self._dirty = True
                self._note(now, backend, HALF_OPEN, f"after {now - timer.tag:.3f} s open")
        else:
            raise ValueError(f"unknown timer kind {kind!r}")
        return actions

    def on_heartbeat(self, now: float, backend_id: str) -> None:
        """A heartbeat from ``backend_id`` arrived (unknown ids are ignored)."""
        backend = self.backends.get(backend_id)
        if backend is not None and backend.joined:
            backend.hb_seen = True
            backend.last_heartbeat = now

    def on_probe_reply(self, now: float, backend_id: str, in_flight: int, latency: float) -> None:
        """A probed backend reported its requests in flight and its latency (seconds)."""
        backend = self.backends.get(backend_id)
        if backend is not None and backend.joined:
            self.strategy.on_probe(backend, in_flight, latency, now)

    def on_join(self, now: float, backend: Backend) -> list[Action]:
        """A backend announced itself (new, back after leaving, or with new metadata)."""
        self._now = now
        self._add(backend, now)
        return []

    def on_leave(self, now: float, backend_id: str) -> list[Action]:
        """A backend went away: its live attempts fail over and it gets nothing more."""
        self._now = now
        backend = self.backends.get(backend_id)
        actions: list[Action] = []
        if backend is None or not backend.joined:
            return actions
        backend.joined = False
        if backend.ejected:
            backend.ejected = False
            self._ejected -= 1
        self._membership_changed = self._dirty = True
        self._note(now, backend, "leave", "")
        for record in [a for a in self._attempts.values() if a.backend is backend]:
            if record.done:
                continue
            self._end_attempt(record, now, UNAVAILABLE, actions)
            request = record.request
            if request.status != ERROR:
                request.status = UNAVAILABLE
                request.status_backend = ""
            if request.live == 0:
                self._failover(request, now, actions)
        return actions

    # ------------------------------------------------------------ views

    @property
    def pending(self) -> int:
        """Requests received and not yet answered."""
        return len(self._requests)

    def snapshot(self) -> dict[str, Any]:
        """Counters, health and strategy state, for the stats endpoint and results."""
        return {
            "strategy": self.config.strategy,
            "failover": self.config.failover.label,
            "pending": len(self._requests),
            "panic": self.panic,
            "stats": self.stats.as_dict(),
            "strategy_status": self.strategy.status(),
            "backends": [
                {
                    "id": b.id,
                    "weight": b.weight,
                    "tier": b.tier,
                    "health": b.health,
                    "in_flight": b.in_flight,
                    "sent": b.sent,
                    "ok": b.ok,
                    "errors": b.errors,
                    "timeouts": b.timeouts,
                    "cancelled": b.cancelled,
                    "latency_ewma_s": b.latency_ewma,
                    "ejections": b.ejections,
                }
                for b in self.backends.values()
            ],
        }

    # ------------------------------------------------------------ membership and pools

    def _add(self, backend: Backend, now: float) -> None:
        state = self.backends.get(backend.id)
        if state is None:
            state = BackendState(backend)
            if self._breaker is not None:
                state.breaker = CircuitBreaker(self._breaker)
            self.backends[backend.id] = state
        elif state.joined and state.backend == backend:
            state.hb_seen = True
            return
        else:
            state.backend = backend
            state.weight = backend.weight
            state.tier = backend.tier
        state.joined = True
        state.hb_up = True
        state.hb_misses = 0
        state.hb_seen = True
        state.last_heartbeat = now
        self._membership_changed = self._dirty = True
        self._note(now, state, "join", f"weight {backend.weight} tier {backend.tier}")

    def _usable(self, backend: BackendState, heartbeats: bool) -> bool:
        if backend.ejected or (heartbeats and not backend.hb_up):
            return False
        breaker = backend.breaker
        return breaker is None or breaker.admits()

    def _rebuild_pools(self) -> None:
        self._dirty = False
        if self._membership_changed:
            self._membership_changed = False
            self._joined = tuple(b for b in self.backends.values() if b.joined)
            if self._tiers is None:
                self._universes = {0: self._joined}
            else:
                tiers = sorted({b.tier for b in self._joined})
                self._universes = {t: tuple(b for b in self._joined if b.tier == t) for t in tiers}
        joined = self._joined
        healthy = [b for b in joined if self._usable(b, True)]
        panic = self.config.panic_threshold > 0 and len(healthy) < (
            self.config.panic_threshold * len(joined)
        )
        if panic != self.panic:
            self.panic = panic
            if panic:
                self.stats.panics += 1
            self.events.append(
                HealthEvent(
                    self._now,
                    "",
                    "panic" if panic else "calm",
                    f"{len(healthy)} of {len(joined)} healthy",
                )
            )
        members = [b for b in joined if self._usable(b, False)] if panic else healthy
        for backend in joined:
            backend.pool = None
        pools: list[Pool] = []
        fractions: list[float] = []
        if self._tiers is None:
            if members:
                pools.append(Pool(members, self._universes[0]))
                fractions.append(1.0)
        else:
            healthy_set = set(members)
            tier_pools = [
                Pool([b for b in universe if b in healthy_set], universe)
                for universe in self._universes.values()
            ]
            loads = tier_loads(
                [len(p.members) / len(p.universe) for p in tier_pools],
                self._tiers.overprovisioning,
            )
            for pool, load in zip(tier_pools, loads, strict=True):
                if load > 0 and pool.members:
                    pools.append(pool)
                    fractions.append(load)
        total = sum(fractions)
        cumulative = []
        running = 0.0
        for share in fractions:
            running += share / total
            cumulative.append(running)
        for pool in pools:
            for backend in pool.members:
                backend.pool = pool
        self._pools = pools
        self._cumulative = cumulative

    def _pools_in_order(self) -> list[Pool]:
        """The pools to try for one pick: a tier drawn by its load first, then the rest."""
        if self._dirty:
            self._rebuild_pools()
        pools = self._pools
        if len(pools) <= 1:
            return pools
        u = self.rng.random()
        for index, bound in enumerate(self._cumulative):
            if u < bound:
                return [pools[index], *pools[:index], *pools[index + 1 :]]
        return pools

    # ------------------------------------------------------------ attempts

    def _choose(self, request: _Request, now: float) -> BackendState | None:
        pools = self._pools_in_order()
        if not pools:
            return None
        strategy = self.strategy
        if request.last is None:  # the first attempt
            for pool in pools:
                chosen = strategy.pick(pool, request, now)
                if chosen is not None:
                    return chosen
            return None
        # A retry or hedge goes to a backend not tried yet; failing that, to
        # any but the one that just failed; only a lone backend is tried again.
        last = request.last
        tried = {attempt.backend for attempt in request.attempts}
        for exclude in (tried, {last}, _NOTHING):
            for pool in pools:
                chosen = strategy.pick_excluding(pool, request, now, exclude)
                if chosen is not None:
                    return chosen
        return None

    def _send(
        self, request: _Request, now: float, actions: list[Action], hedge: bool = False
    ) -> bool:
        backend = self._choose(request, now)
        if backend is None:
            return False
        trial = False
        breaker = backend.breaker
        if breaker is not None and breaker.state == HALF_OPEN:
            trial = True
            breaker.on_send()
            if not breaker.admits():
                self._dirty = True  # its trial slots are taken: out of the pools for now
        aid = self._next_attempt
        self._next_attempt = aid + 1
        record = _Attempt(aid, request, backend, now, hedge, trial)
        self._attempts[aid] = record
        request.attempts.append(record)
        request.last = backend
        request.live += 1
        if not hedge:
            request.tries += 1
        backend.in_flight += 1
        pool = backend.pool
        if pool is not None:
            pool.in_flight += 1
        backend.sent += 1
        self.strategy.on_send(backend, now)
        self.stats.attempts += 1
        actions.append(Send(aid, request.rid, backend.id, hedge))
        timeout = self._try_timeout
        if timeout is not None and now + timeout < request.deadline:
            actions.append(Arm(now + timeout, Timer(TRY, record, None)))
        return True

    def _end_attempt(
        self, record: _Attempt, now: float, outcome: str | None, actions: list[Action]
    ) -> None:
        """Close one attempt: outcome OK, ERROR, TIMEOUT, UNAVAILABLE, or None if cancelled."""
        record.done = True
        del self._attempts[record.aid]
        backend = record.backend
        backend.in_flight -= 1
        pool = backend.pool
        if pool is not None:
            pool.in_flight -= 1
        record.request.live -= 1
        breaker = backend.breaker
        if outcome is None:
            backend.cancelled += 1
            self.stats.cancelled += 1
            if breaker is not None and record.trial:
                breaker.on_cancel(True)
                self._dirty = True
            return
        latency = now - record.sent_at
        ok = outcome == OK
        backend.recent.append(ok)
        if ok:
            backend.ok += 1
            backend.consecutive_failures = 0
            backend.observe_latency(latency, now)
            if self._hedge_delay is not None:
                self._hedge_delay.observe(latency)
        else:
            if outcome == TIMEOUT:
                backend.timeouts += 1
            else:
                backend.errors += 1
            backend.consecutive_failures += 1
            eject = self._eject
            if (
                eject is not None
                and backend.consecutive_failures >= eject.consecutive_failures
                and backend.joined
            ):
                self._try_eject(
                    backend, now, f"{backend.consecutive_failures} consecutive failures", actions
                )
        self.strategy.on_done(backend, latency, ok, now)
        if breaker is not None:
            change = breaker.on_done(ok, now, record.trial)
            if record.trial:
                self._dirty = True
            if change is not None:
                self._dirty = True
                self._note(now, backend, change, "")
                if change == OPEN:
                    actions.append(Arm(now + breaker.config.open_s, Timer(BREAKER, backend, now)))

    def _failover(self, request: _Request, now: float, actions: list[Action]) -> None:
        """All attempts of ``request`` failed: retry elsewhere or give the answer."""
        retry = self._retry
        if retry is not None and request.tries < retry.max_attempts:
            delay = jittered_backoff(
                self.rng, request.tries, retry.backoff_base_s, retry.backoff_max_s
            )
            if now + delay < request.deadline:
                assert self._retry_budget is not None
                if self._retry_budget.withdraw(now):
                    self.stats.retries += 1
                    if delay > 0.0:
                        request.waiting = True
                        actions.append(Arm(now + delay, Timer(BACKOFF, request, None)))
                        return
                    if self._send(request, now, actions):
                        return
                else:
                    self.stats.budget_exhausted += 1
        self._finish(request, request.status, request.status_backend, now, actions)

    def _hedge_now(self, request: _Request, now: float, actions: list[Action]) -> None:
        if request.done or request.hedged or request.live != 1 or request.waiting:
            return
        assert self._hedge_budget is not None
        if not self._hedge_budget.withdraw(now):
            self.stats.budget_exhausted += 1
            return
        request.hedged = True
        if self._send(request, now, actions, hedge=True):
            self.stats.hedges += 1

    def _finish(
        self, request: _Request, status: str, backend_id: str, now: float, actions: list[Action]
    ) -> None:
        request.done = True
        del self._requests[request.rid]
        if request.live:
            for record in request.attempts:
                if not record.done:
                    self._end_attempt(record, now, None, actions)
                    actions.append(Cancel(record.aid, request.rid, record.backend.id))
        # A request and its attempts point at each other; cutting the cycle
        # here frees them by reference counting at once, instead of leaving
        # millions of them to the cyclic garbage collector (pauses in the
        # balancer, most of the simulator's time at scale).
        request.attempts.clear()
        self.stats.outcomes[status] += 1
        actions.append(Reply(request.rid, status, backend_id))

    # ------------------------------------------------------------ health

    def _try_eject(
        self, backend: BackendState, now: float, reason: str, actions: list[Action]
    ) -> None:
        eject = self._eject
        assert eject is not None
        if backend.ejected:
            return
        if not may_eject(eject, len(self._joined), self._ejected):
            self.stats.ejections_blocked += 1
            return
        duration = ejection_seconds(eject, backend, now)
        backend.ejected = True
        backend.ejected_until = now + duration
        self._ejected += 1
        self.stats.ejections += 1
        self._dirty = True
        self._note(now, backend, "eject", f"{reason}; out for {duration:.3f} s")
        actions.append(Arm(backend.ejected_until, Timer(UNEJECT, backend, backend.ejected_until)))

    def _uneject(self, backend: BackendState, until: float, now: float) -> None:
        if not backend.ejected or backend.ejected_until != until:
            return
        backend.ejected = False
        backend.last_uneject_at = now
        backend.consecutive_failures = 0
        backend.samples = 0  # judge its latency afresh, not by the samples that ejected it
        self._ejected -= 1
        self._dirty = True
        self._note(now, backend, "uneject", "heartbeats up" if backend.hb_up else "heartbeats down")

    def _tick(self, now: float, actions: list[Action]) -> None:
        eject = self._eject
        assert eject is not None
        if self._dirty:
            self._rebuild_pools()
        for backend in self._joined:
            verdict = heartbeat_verdict(eject, backend)
            if verdict is not None:
                self._dirty = True
                self._note(
                    now,
                    backend,
                    "up" if verdict else "down",
                    f"{eject.heartbeat_up_after} heartbeats heard"
                    if verdict
                    else f"{eject.heartbeat_down_after} heartbeats missed",
                )
        if eject.latency_factor > 0:
            self._latency_outliers(now, actions)
        actions.append(Arm(now + eject.heartbeat_interval_s, Timer(TICK, None, self._tick_chain)))

    def _latency_outliers(self, now: float, actions: list[Action]) -> None:
        eject = self._eject
        assert eject is not None
        measured = sorted(
            (b.latency_ewma, b.id)
            for b in self._joined
            if not b.ejected and b.samples >= eject.latency_min_samples
        )
        if len(measured) < 3:
            return  # with two, neither is an outlier of "the fleet"
        middle = measured[len(measured) // 2][0]
        for ewma, backend_id in reversed(measured):
            if ewma <= eject.latency_factor * middle:
                break
            self._try_eject(
                self.backends[backend_id],
                now,
                f"latency EWMA {ewma * 1e3:.2f} ms > {eject.latency_factor} x median "
                f"{middle * 1e3:.2f} ms",
                actions,
            )

    def _note(self, now: float, backend: BackendState, kind: str, detail: str) -> None:
        self.events.append(HealthEvent(now, backend.id, kind, detail))
