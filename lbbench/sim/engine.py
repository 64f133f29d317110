"""The discrete-event simulation of one trial: clients, network, the router, targets.

Nothing here re-implements a decision: the very ``Router`` the balancer
runs (strategies, health, failover) takes the events, and every target is
the live target's ``ServiceQueue`` and ``FaultState`` with its profile's
latency model. The engine only moves simulated time and messages.

Time is a set of sorted streams merged at each step, which is cheaper than
one heap: arrivals (generated one ahead), messages to targets and back to
the router (a constant hop delay, so each stream is already in time order),
request deadlines and per-try timeouts (a constant offset from their
arming, so in order too; finished requests' timers are dropped from the
front unseen) and a heap for the rest (service completions, backoff and
hedge timers, heartbeats, faults, samples).

Common random numbers: arrivals and routing keys come from the stream the
live generator uses with the same seed, service times from their own, and
a request's service time is the quantile of a uniform drawn when it
arrives, so with the same seed two strategies see the same requests with
the same amounts of work; only the routing differs. A retry or hedge of a
request gets its own quantile, derived from the
request's by a golden-ratio step.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lbbench.core import streams
from lbbench.core.actions import Arm, Cancel, Probe, Reply, Send
from lbbench.core.faults import Fault
from lbbench.core.records import RIF_CAP
from lbbench.core.router import Router
from lbbench.errors import ConfigError
from lbbench.gc_pacing import fewer_collections
from lbbench.results.recorder import BucketTally, Recorder, clamp_us, copy_histogram
from lbbench.results.trial import RouterView, shared_fleet, trial_result
from lbbench.scenario.balancers import listing, split_chooser
from lbbench.scenario.load import key_sampler
from lbbench.scenario.scenario import Scenario, is_grpc
from lbbench.sim.events import (
    DONE,
    FAULT_END,
    FAULT_START,
    HEARTBEATS,
    PROBE,
    REPORT,
    REPORT_ARRIVES,
    RESTART,
    SAMPLE,
    TIMER,
)
from lbbench.sim.options import SimOptions
from lbbench.sim.report import SimReport
from lbbench.sim.targets import SimTarget
from lbbench.vocabulary import attempt_quantile


def _compact(stream: deque[tuple[float, Any, Router]]) -> None:
    """Drop the timers of finished requests and attempts from a timer stream.

    Only its head is pruned as time goes by, and one slow request at the
    head holds everything behind it; compacting whenever the stream is
    twice the requests pending keeps its length, and memory, bounded by
    what is in flight rather than by the request rate times the deadline.
    Each compaction follows at least as many appends as it keeps entries,
    so it costs O(1) per timer.
    """
    live = [entry for entry in stream if not entry[1].ref.done]
    stream.clear()
    stream.extend(live)


class Simulation:
    """One trial of a scenario in simulated time."""

    def __init__(self, scenario: Scenario, seed: int, options: SimOptions | None = None) -> None:
        options = options or SimOptions()
        load = scenario.load
        self.check(scenario)
        self.scenario = scenario
        self.options = options
        self.seed = seed
        config = scenario.router_config()
        if scenario.proxy:  # what the proxy does by itself (Envoy's p2c draws with
            # replacement, its ejections' multiplier decays)
            from lbbench.core.settings import apply_settings, resolved
            from lbbench.proxies.vocabulary import simulated_options, simulated_settings

            config = replace(
                config,
                strategy_options=simulated_options(
                    scenario.proxy, config.strategy, config.strategy_options
                ),
            )
            config = apply_settings(config, simulated_settings(scenario.proxy, resolved(config)))
        capacity = sum(t.capacity for t in scenario.profile.targets)
        max_pending = options.max_pending or max(config.max_pending, 4 * capacity)
        config = replace(config, max_pending=max_pending)
        # Several balancers share the fleet (client-side balancing): each its own router,
        # its own random stream, and attempt ids of its own residue modulo N, so that a
        # reply finds its router by its attempt id alone. Each further balancer lists
        # the backends in an order of its own (``listing``). One balancer is the router
        # the simulator always had, drawing what it always drew, in the fleet's order.
        count = scenario.balancers
        self.routers = [
            Router(
                config,
                listing([spec.backend() for spec in scenario.profile.targets], seed, index),
                rng=random.Random(streams.balancer_router(seed, index)),
                attempt_ids=itertools.count(index, count),
            )
            for index in range(count)
        ]
        self.router = self.routers[0]
        # Which balancer each request goes to: a stream of its own (none with one), the
        # live generator's first process's.
        self._choose_balancer = split_chooser(
            count, scenario.balancers_split, random.Random(streams.balancer_split(seed)).random
        )
        self._reports = config.view == "reports"
        #: with several balancers, the requests in flight each attempt joined at its
        #: backend counted over all of them (one balancer's count is its own)
        self._fleet_rif: list[int] | None = [0] * (RIF_CAP + 1) if count > 1 else None
        self._view_period = config.view_period_s
        self._view_delay = config.view_delay_s
        self.heap: list[tuple] = []
        self._seq = itertools.count()
        self.targets = {
            spec.id: SimTarget(spec, seed, self.heap, self._seq)
            for spec in scenario.profile.targets
        }
        self.recorder = Recorder()
        self._latency = BucketTally(self.recorder.corrected)
        self.report = SimReport(self.recorder, load.rate, load.duration_s)
        self.now = 0.0
        self.events = 0
        #: when a list, every answered request's latency (seconds), in the order answered
        self.kept_latencies: list[float] | None = None
        #: called with (time, actions) for every batch of the router's actions (tests trace them)
        self.on_actions: Callable[[float, list], None] | None = None
        self.samples: list[tuple[float, dict[str, int]]] = []
        # Arrivals and keys: the very stream the live generator's first
        # process draws from with this seed (core.streams: one table of streams).
        self._arrivals = random.Random(streams.arrivals(seed))
        self._key = key_sampler(load, self._arrivals)
        self._work = random.Random(streams.work(seed)).random
        self._end_of_load = load.duration_s
        self._give_up = load.duration_s + load.drain_s
        self._next_rid = 0
        self._requests: dict[int, list] = {}  # rid -> [intended, quantile, attempts]
        # (arrival time, target, attempt, its quantile, or None for a cancel)
        self._to_target: deque[tuple[float, SimTarget, int, float | None]] = deque()
        self._to_router: deque[tuple[float, int, bool]] = deque()
        # Timers armed a constant time after their event (deadlines, per-try
        # timeouts) come due in the order armed: one plain queue per kind.
        self._stream_of: dict[str, deque[tuple[float, Any, Router]]] = {
            kind: deque() for kind in sorted(self.router.in_order_timers)
        }
        self._faulted = {f.target for f in scenario.profile.faults}
        self._full_samples = len(self.targets) <= options.full_samples_up_to
        self._next_arrival = options.hop_s  # the first send is intended at 0, as live
        self._push(0.0, SAMPLE, None, None)
        for fault in scenario.profile.faults:
            self._push(fault.at_s, FAULT_START, fault, None)
            if fault.end_s is not None:
                self._push(fault.end_s, FAULT_END, fault, None)
        if self.router.needs_heartbeats:  # else nothing reads them
            self._push(options.heartbeat_s, HEARTBEATS, None, None)
        if self._reports:  # the first board goes up one period in
            self._push(self._view_period, REPORT, None, None)
        for router in self.routers:
            self._apply(router.start(0.0), 0.0, router)

    @staticmethod
    def check(scenario: Scenario) -> None:
        """Raise a ConfigError if ``scenario`` cannot be simulated."""
        if is_grpc(scenario.strategy):
            raise ConfigError("--strategy", "grpc: policies run inside grpcio: live rig only")
        if scenario.load.mode != "open":
            raise ConfigError("--mode", "the simulator drives an open loop only")

    # ------------------------------------------------------------ the loop

    def _push(self, at: float, kind: int, a: Any, b: Any) -> None:
        heapq.heappush(self.heap, (at, next(self._seq), kind, a, b))

    def run(self, until: float | None = None, progress: Callable[[float], None] | None = None):
        """Advance to ``until`` (default: the end of the load and its drain)."""
        with fewer_collections():
            self._run(until, progress)

    def _run(self, until: float | None, progress: Callable[[float], None] | None) -> None:
        stop_at = self._give_up if until is None else until
        router = self.router
        routers = self.routers
        many = len(routers)  # > 1: a reply's router is its attempt id modulo this
        on_reply = router.on_reply
        apply = self._apply
        arrive = self._arrive
        heap = self.heap
        heappop = heapq.heappop
        to_target = self._to_target
        to_router = self._to_router
        streams = list(self._stream_of.values())
        due: deque[tuple[float, Any, Router]] = deque()  # the timer stream whose head is next
        hop = self.options.hop_s
        end_of_load = self._end_of_load + hop
        next_gap = self.scenario.load.next_gap
        arrivals = self._arrivals
        started = time.perf_counter()
        events = 0
        next_progress = 1 << 16
        while True:
            # The earliest head of the sorted streams is the next event.
            at = self._next_arrival
            source = 0
            if heap and heap[0][0] < at:
                at = heap[0][0]
                source = 1
            if to_target and to_target[0][0] < at:
                at = to_target[0][0]
                source = 2
            if to_router and to_router[0][0] < at:
                at = to_router[0][0]
                source = 3
            for stream in streams:
                if stream:
                    while stream and stream[0][1].ref.done:
                        stream.popleft()  # what it guarded is over: a stale timer
                    if stream and stream[0][0] < at:
                        at = stream[0][0]
                        source = 4
                        due = stream
            if at > stop_at or (until is None and at >= end_of_load and not self._pending()):
                break  # (an empty world has at == inf > stop_at)
            self.now = at
            events += 1
            if source == 0:
                arrive(at)
                following = at + next_gap(at - hop, arrivals)
                self._next_arrival = following if following < end_of_load else math.inf
            elif source == 1:
                _, _, kind, target, entry = heappop(heap)
                if kind != DONE:
                    self._other(at, kind, target, entry)
                elif entry[0] == target.epoch:  # else: served by a process crashed since
                    job = entry[1]
                    ok = target.model.finish(job, at)
                    if ok is not None:  # (None: not answered)
                        if hop > 0:
                            to_router.append((at + hop, job[0], ok))
                        elif many == 1:
                            apply(on_reply(at, job[0], ok), at, router)
                        else:
                            owner = routers[job[0] % many]
                            apply(owner.on_reply(at, job[0], ok), at, owner)
            elif source == 2:
                _, target, attempt, work = to_target.popleft()
                if target.alive:
                    if work is None:
                        target.model.cancel(attempt)
                    else:
                        target.model.offer(attempt, work, at)  # False: dropped or hung
            elif source == 3:
                _, attempt, ok = to_router.popleft()
                if many == 1:
                    apply(on_reply(at, attempt, ok), at, router)
                else:
                    owner = routers[attempt % many]
                    apply(owner.on_reply(at, attempt, ok), at, owner)
            else:
                _, timer, owner = due.popleft()
                apply(owner.on_timer(at, timer), at, owner)
            if progress is not None and events >= next_progress:
                next_progress += 1 << 16
                progress(min(1.0, at / self._end_of_load))
        self.events += events
        self.report.events = self.events
        self.report.wall_s += time.perf_counter() - started
        self.report.simulated_s = self.now
        if until is None:
            self.now = max(self.now, self._end_of_load)

    # ------------------------------------------------------------ events

    def _requests_pending(self) -> int:
        return len(self._requests)

    def _pending(self) -> bool:
        """Whether any balancer still holds a request."""
        return any(router.pending for router in self.routers)

    def _arrive(self, at: float) -> None:
        rid = self._next_rid
        self._next_rid = rid + 1
        self._requests[rid] = [at - self.options.hop_s, self._work(), 0]
        self.recorder.sent += 1
        key = self._key() if self._key is not None else None
        routers = self.routers
        router = routers[self._choose_balancer()] if len(routers) > 1 else self.router
        self._apply(router.on_request(at, rid, key), at, router)

    def _deliver(self, at: float, target: SimTarget, attempt: int, work: float | None) -> None:
        if not target.alive:
            return
        if work is None:
            target.model.cancel(attempt)
        else:
            target.model.offer(attempt, work, at)  # False: dropped or hung, never answered

    def _other(self, at: float, kind: int, a: Any, b: Any) -> None:
        if kind == TIMER:
            self._apply(b.on_timer(at, a), at, b)
        elif kind == PROBE:
            target: SimTarget = a
            answer = target.model.probe(at) if target.alive else None
            if answer is not None:  # (none while partitioned)
                actions = b.on_probe_reply(at, target.spec.id, answer[0], answer[1])
                if actions:
                    self._apply(actions, at, b)
        elif kind == HEARTBEATS:
            for target in self.targets.values():
                if target.alive and target.model.heartbeats(at):
                    for router in self.routers:
                        actions = router.on_heartbeat(at, target.spec.id)
                        if actions:
                            self._apply(actions, at, router)
            self._push(at + self.options.heartbeat_s, HEARTBEATS, None, None)
        elif kind == REPORT:
            # The bulletin board (Mitzenmacher 2000): every target posts how many
            # requests it holds, from every balancer; a crashed or partitioned one posts
            # nothing, so its last figure stands.
            board = {
                target.spec.id: target.model.queue.in_flight
                for target in self.targets.values()
                if target.alive and target.model.heartbeats(at)
            }
            if self._view_delay > 0:
                self._push(at + self._view_delay, REPORT_ARRIVES, board, None)
            else:
                self._post(at, board)
            if at < self._give_up:
                self._push(at + self._view_period, REPORT, None, None)
        elif kind == REPORT_ARRIVES:
            self._post(at, a)
        elif kind == SAMPLE:
            routers = self.routers
            if self._full_samples:
                counts = {t: 0 for t in self.targets}
                for router in routers:
                    for backend in router.backends.values():
                        counts[backend.id] += backend.sent
            else:
                counts = {t: 0 for t in self._faulted}
                attempts = 0
                for router in routers:
                    backends = router.backends
                    for t in self._faulted:
                        counts[t] += backends[t].sent
                    attempts += router.stats.attempts
                counts["(rest)"] = attempts - sum(counts.values())
            self.samples.append((at, counts))
            if at < self._give_up:
                self._push(at + self.options.sample_s, SAMPLE, None, None)
        elif kind == FAULT_START:
            self._fault_start(at, a)
        elif kind == FAULT_END:
            self._fault_end(at, a)
        elif kind == RESTART:
            target = a
            target.restart()
            for router in self.routers:
                self._apply(router.on_join(at, target.spec.backend()), at, router)
        else:
            raise AssertionError(kind)

    def _fault_start(self, at: float, fault: Fault) -> None:
        target = self.targets[fault.target]
        if fault.kind == "crash":
            target.crash()
        elif target.alive:
            target.model.apply(fault.command(), at)

    def _fault_end(self, at: float, fault: Fault) -> None:
        target = self.targets[fault.target]
        if fault.kind == "crash":
            if not target.alive:
                self._push(at + self.options.restart_s, RESTART, target, None)
        elif target.alive:
            # the command the live rigs send when a fault's time is up: the same end
            target.model.apply(fault.end_command(), at)

    # ------------------------------------------------------------ actions

    def _post(self, at: float, board: dict[str, int]) -> None:
        """A board of reported loads reaches every balancer."""
        for router in self.routers:
            router.on_load_report(at, board)

    def carry_out(self, actions: list, router: Router | None = None) -> None:
        """Carry out actions got from outside the loop (a switch, a departure) from
        ``router`` (default: the first balancer's)."""
        self._apply(actions, self.now, router or self.router)

    def _apply(self, actions: list, at: float, router: Router) -> None:
        """Carry out ``router``'s actions, as the balancer's event loop does."""
        hop = self.options.hop_s
        observe = self.on_actions
        while actions:
            if observe is not None:
                observe(at, actions)
            more: list = []  # what failed sends lead to
            for action in actions:
                kind = type(action)
                if kind is Send:
                    target = self.targets[action.backend]
                    if self._fleet_rif is not None:
                        # the requests in flight it joined, from every balancer (each
                        # balancer's own count is only its own share of them)
                        joined = 0
                        for each in self.routers:
                            joined += each.backends[action.backend].in_flight
                        self._fleet_rif[joined if joined < RIF_CAP else RIF_CAP] += 1
                    if not target.alive:
                        # A crashed peer is disconnected: the send fails at once
                        # (ZeroMQ's ROUTER_MANDATORY in the live balancer).
                        more.extend(router.on_send_failed(at, action.attempt))
                        continue
                    request = self._requests[action.request]
                    work = attempt_quantile(request[1], request[2])
                    request[2] += 1
                    if hop > 0:
                        self._to_target.append((at + hop, target, action.attempt, work))
                    else:
                        self._deliver(at, target, action.attempt, work)
                elif kind is Arm:
                    timer = action.timer
                    stream = self._stream_of.get(timer.kind)
                    if stream is not None and (not stream or stream[-1][0] <= action.at):
                        stream.append((action.at, timer, router))
                        if len(stream) > 2 * self._requests_pending() + 1024:
                            _compact(stream)
                    else:
                        self._push(action.at, TIMER, timer, router)
                elif kind is Reply:
                    self._reply(at, action)
                elif kind is Cancel:
                    # Behind the request on the same path, as in the live rig.
                    target = self.targets[action.backend]
                    if hop > 0:
                        self._to_target.append((at + hop, target, action.attempt, None))
                    else:
                        self._deliver(at, target, action.attempt, None)
                elif kind is Probe:
                    self._push(at + 2 * hop, PROBE, self.targets[action.backend], router)
            actions = more

    def _reply(self, at: float, reply: Reply) -> None:
        intended = self._requests.pop(reply.request)[0]
        latency = at + self.options.hop_s - intended
        if self.kept_latencies is not None:
            self.kept_latencies.append(latency)
        self._latency.add(clamp_us(latency))
        self.recorder.outcomes[reply.status] += 1
        self.recorder.count_reply(reply.status, reply.backend, intended)

    # ------------------------------------------------------------ results

    def finish(self) -> dict[str, Any]:
        """The trial's result, in the live runner's shape."""
        recorder = self.recorder
        # Sent at its intended time, a request's corrected and uncorrected
        # latencies are the same: the simulated generator never lags.
        self._latency.flush(recorder.corrected)
        recorder.uncorrected = copy_histogram(recorder.corrected)
        recorder.lost = len(self._requests)
        if recorder.lost:
            self.report.problems.append(
                f"{recorder.lost} requests still unanswered at the end of the drain"
            )
        routers = self.routers
        if len(routers) == 1:
            view = RouterView.from_snapshot(self.router.snapshot())
            events = [e._asdict() for e in self.router.events]
        else:  # the fleet's figures over every balancer; each one's own beside them
            view, events, part = shared_fleet(
                self.scenario,
                [router.snapshot() for router in routers],
                [[e._asdict() for e in router.events] for router in routers],
            )
            # the requests in flight each attempt joined, counted over every balancer
            view.rif_counts = {str(n): c for n, c in enumerate(self._fleet_rif or []) if c}
        result = trial_result(
            self.scenario, self.seed, 0.0, self.report, view, events, self.samples,
            self.report.problems,
        )  # fmt: skip
        if len(routers) > 1:
            result["balancers"] = part
        return result
