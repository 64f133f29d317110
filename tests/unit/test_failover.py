"""Failover scenarios in the simulator: what each mode does when backends fail.

The targets are the live target's model (``tests/unit/world.py``): a
failing backend is an ``error_rate`` fault with p = 1, a hanging one a
``hang``, a silent one (no answers, no heartbeats) a ``drop``.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lbbench.core.backends import Backend
from lbbench.core.config import RouterConfig
from lbbench.core.router import Router
from tests.unit.world import World, exponential, fault, fixed, fleet, scenario

FOUR = {f"t{i}": exponential(0.002) for i in range(4)}


def failing(target: str, at_s: float = 0.0, until_s: float | None = None):
    return fault(target, "error_rate", at_s, until_s, p=1.0)


def world(profile, settings=None, **kwargs) -> World:
    """Run a scenario with panic mode off unless asked (it would blur what a mode does)."""
    settings = {"panic_threshold": 0.0, **(settings or {})}
    return World(scenario(profile, settings=settings, **kwargs)).run()


def test_fail_fast_passes_a_failing_backend_errors_to_clients():
    run = world(fleet(FOUR, faults=[failing("t1")]))
    counts = run.outcome_counts()
    # round robin: one request in four lands on t1 and fails
    assert counts["error"] / sum(counts.values()) == pytest.approx(0.25, abs=0.015)
    assert run.router.stats.counters["retries"] == 0


def test_retry_turns_those_errors_into_successes_and_never_goes_back():
    run = world(fleet(FOUR, faults=[failing("t1")]), modes=("retry",))
    assert run.outcome_counts() == Counter({"ok": len(run.replies)})
    retried = [sends for sends in run.attempts_of.values() if len(sends) > 1]
    assert retried, "no request was retried"
    for sends in retried:
        backends = [s.backend for s in sends]
        assert backends[0] == "t1"
        assert "t1" not in backends[1:]
        assert len(set(backends)) == len(backends)


def test_retry_after_a_timeout_goes_elsewhere_and_answers_in_time():
    run = world(
        fleet(FOUR, faults=[fault("t2", "hang")]),
        modes=("retry",),
        duration_s=3.0,
        settings={"failover.retry.per_try_timeout_s": 0.05},
    )
    assert run.outcome_counts() == Counter({"ok": len(run.replies)})
    slowest = max(run.reply_at[r] - run.sent_at[r] for r in run.replies)
    assert slowest < 0.05 + 0.025 + 0.05  # per-try timeout + backoff cap + service


def test_eject_takes_a_failing_backend_out_after_the_threshold_and_back_after_backoff():
    run = world(
        fleet(FOUR, faults=[failing("t1", 0.0, 2.0)]),
        modes=("eject",),
        rate=400,
        duration_s=6.0,
        settings={"failover.eject.consecutive_failures": 5, "failover.eject.base_ejection_s": 1.0},
    )
    events = [e for e in run.router.events if e.backend == "t1" and e.kind in ("eject", "uneject")]
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["eject", "uneject"]
    first_eject, first_back = events[0], events[1]
    # the threshold of failures reached t1 before it was ejected (a sixth send
    # may have left while the fifth failure was still being served)
    assert 5 <= run.sends_to("t1", until=first_eject.at) <= 6
    # ejected for base x 1 = 1 s, and nothing sent to it meanwhile
    assert first_back.at - first_eject.at == pytest.approx(1.0)
    assert run.sends_to("t1", since=first_eject.at + 1e-9, until=first_back.at) == 0
    # after it recovered (t = 2 s) it stays in and takes its share again
    last_back = [e for e in events if e.kind == "uneject"][-1]
    assert run.shares(since=last_back.at + 0.5)["t1"] == pytest.approx(0.25, abs=0.02)


def test_repeated_ejections_last_longer_up_to_the_cap():
    run = world(
        fleet(FOUR, faults=[failing("t1")]),
        modes=("eject",),
        rate=400,
        duration_s=6.0,
        settings={
            "failover.eject.consecutive_failures": 3,
            "failover.eject.base_ejection_s": 0.5,
            "failover.eject.max_ejection_s": 1.0,
        },
    )
    out = [e for e in run.router.events if e.backend == "t1" and e.kind == "eject"]
    back = [e for e in run.router.events if e.backend == "t1" and e.kind == "uneject"]
    durations = [round(b.at - o.at, 6) for o, b in zip(out, back, strict=False)]
    assert durations[:4] == [0.5, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("decay_interval_s", "durations"),
    [
        # the count of ejections in a row only grows while the backend keeps failing
        (0.0, [0.5, 1.0, 1.5, 2.0]),
        # Envoy's rule: back in for one interval, the count drops by one again, so
        # a backend ejected again within that interval of its return stays out longer,
        # and one that came back for longer is out for the base time each time
        (0.001, [0.5, 0.5, 0.5, 0.5]),
        (10.0, [0.5, 1.0, 1.5, 2.0]),
    ],
)
def test_how_long_repeated_ejections_last_with_and_without_decay(decay_interval_s, durations):
    run = world(
        fleet(FOUR, faults=[failing("t1")]),
        modes=("eject",),
        rate=400,
        duration_s=8.0,
        settings={
            "failover.eject.consecutive_failures": 3,
            "failover.eject.base_ejection_s": 0.5,
            "failover.eject.max_ejection_s": 5.0,
            "failover.eject.decay_interval_s": decay_interval_s,
        },
    )
    out = [e for e in run.router.events if e.backend == "t1" and e.kind == "eject"]
    back = [e for e in run.router.events if e.backend == "t1" and e.kind == "uneject"]
    assert [round(b.at - o.at, 6) for o, b in zip(out, back, strict=False)][:4] == durations


@pytest.mark.parametrize(("timeouts_fail", "ejected"), [(True, True), (False, False)])
def test_a_hanging_backend_is_ejected_for_its_timeouts_only_if_they_count(timeouts_fail, ejected):
    """A backend that takes calls and never answers (its heartbeats go on) fails only by
    the balancer's own per-try timeouts: HAProxy's layer-7 observation does not count
    those (``timeouts_fail = false``), and never takes it out."""
    run = world(
        fleet(FOUR, faults=[fault("t1", "hang", 0.5, None)]),
        modes=("eject", "retry"),
        rate=400,
        duration_s=3.0,
        settings={
            "failover.eject.consecutive_failures": 3,
            "failover.retry.per_try_timeout_s": 0.05,
            "failover.eject.timeouts_fail": timeouts_fail,
        },
    )
    ejections = [e for e in run.router.events if e.backend == "t1" and e.kind == "eject"]
    assert bool(ejections) == ejected
    assert run.outcome_counts() == Counter({"ok": len(run.replies)})  # retried elsewhere


def test_eject_holds_a_silent_backend_out_until_its_heartbeats_return():
    silent, back = 1.0, 3.0
    run = world(
        fleet(FOUR, faults=[fault("t3", "drop", silent, back)]),
        modes=("eject", "retry"),
        rate=400,
        settings={
            "failover.eject.base_ejection_s": 0.5,
            "failover.eject.heartbeat_interval_s": 0.1,
            "failover.eject.heartbeat_down_after": 3,
            "failover.eject.heartbeat_up_after": 2,
            "failover.retry.per_try_timeout_s": 0.05,
        },
    )
    events = [e for e in run.router.events if e.backend == "t3"]
    down = next(e for e in events if e.kind == "down")
    up = next(e for e in events if e.kind == "up")
    detected = min(e.at for e in events if e.kind in ("down", "eject"))
    assert silent < detected < silent + 0.5
    assert down.at < silent + 0.45
    # no request reached it between detection and recovery
    assert run.sends_to("t3", since=down.at, until=up.at) == 0
    assert back < up.at < back + 0.35
    assert run.shares(since=up.at + 0.2)["t3"] == pytest.approx(0.25, abs=0.03)
    assert run.outcome_counts() == Counter({"ok": len(run.replies)})


def test_primary_backup_spills_only_while_primaries_are_down_and_gives_it_back():
    down_at, up_at = 2.0, 4.0
    profile = fleet(
        {i: exponential(0.002) for i in ("p0", "p1", "b0")},
        tiers={"b0": 1},
        faults=[fault(p, "drop", down_at, up_at) for p in ("p0", "p1")],
    )
    run = world(
        profile,
        modes=("primary_backup", "eject"),
        rate=300,
        duration_s=7.0,
        settings={"failover.eject.heartbeat_interval_s": 0.1},
    )
    assert run.sends_to("b0", until=down_at) == 0
    assert run.sends_to("b0", since=down_at + 0.5, until=up_at) > 0
    assert run.shares(since=down_at + 0.5, until=up_at)["b0"] == 1.0
    assert run.sends_to("b0", since=up_at + 0.5) == 0


def test_primary_backup_keeps_primaries_while_most_are_healthy():
    profile = fleet(
        {i: exponential(0.002) for i in ("p0", "p1", "p2", "p3", "b0")},
        tiers={"b0": 1},
        faults=[fault("p0", "drop", 1.0)],
    )
    run = world(profile, modes=("primary_backup", "eject"), rate=300, duration_s=4.0)
    # one of four primaries down: 75 % x 1.4 >= 100 %, so the backup stays idle
    assert run.sends_to("b0") == 0


def test_hedge_sends_at_most_one_extra_attempt_and_cancels_the_loser():
    latency = {"t0": fixed(0.05), **{f"t{i}": fixed(0.002) for i in (1, 2, 3)}}
    run = world(
        fleet(latency),
        modes=("hedge",),
        duration_s=3.0,
        settings={"failover.hedge.delay_s": 0.01, "failover.hedge.budget_ratio": 1.0},
    )
    assert run.outcome_counts() == Counter({"ok": len(run.replies)})
    assert max(len(s) for s in run.attempts_of.values()) == 2
    hedged = [rid for rid, s in run.attempts_of.items() if len(s) == 2]
    # every request that went to slow t0 first was hedged, and the hedge won
    assert hedged and all(run.attempts_of[rid][0].backend == "t0" for rid in hedged)
    cancelled = {c.attempt for c in run.cancels}
    for rid in hedged:
        first, second = run.attempts_of[rid]
        assert first.attempt in cancelled and second.attempt not in cancelled
        assert run.reply_at[rid] - run.sent_at[rid] < 0.02
    stats = run.router.stats
    hedges, wins = stats.counters["hedges"], stats.counters["hedge_wins"]
    assert hedges == len(hedged) == wins == stats.cancelled


def test_hedge_delay_follows_the_latency_percentile():
    run = world(
        fleet({f"t{i}": exponential(0.004) for i in range(4)}),
        modes=("hedge",),
        rate=300,
        settings={"failover.hedge.percentile": 90.0, "failover.hedge.min_samples": 50},
    )
    hedged = sum(1 for s in run.attempts_of.values() if len(s) == 2)
    # hedging after the p90 hedges about 10 % of requests
    assert 0.05 <= hedged / len(run.replies) <= 0.15


def test_retry_budget_caps_attempts_per_request_under_total_failure():
    run = world(
        fleet(FOUR, faults=[failing(t) for t in FOUR]),
        modes=("retry",),
        rate=500,
        duration_s=30.0,
        settings={
            "failover.retry.max_attempts": 5,
            "failover.retry.budget_ratio": 0.2,
            "failover.retry.budget_min_retries": 10,
        },
    )
    requests = len(run.replies)
    attempts = run.router.stats.attempts
    assert run.outcome_counts() == Counter({"error": requests})
    assert attempts / requests <= 1 + 0.2
    assert run.router.stats.counters["budget_exhausted"] > 0


def test_circuit_breaker_opens_stays_open_then_half_opens_and_closes():
    run = world(
        fleet(FOUR, faults=[failing("t1", 0.0, 1.5)]),
        modes=("circuit_breaker",),
        rate=400,
        duration_s=4.0,
        settings={
            "failover.circuit_breaker.window": 10,
            "failover.circuit_breaker.min_requests": 10,
            "failover.circuit_breaker.failure_ratio": 0.5,
            "failover.circuit_breaker.open_s": 1.0,
            "failover.circuit_breaker.half_open_trials": 2,
        },
    )
    events = [(e.kind, e.at) for e in run.router.events if e.backend == "t1" and e.kind != "join"]
    kinds = [k for k, _ in events]
    assert kinds[0] == "open"
    opened = events[0][1]
    # the window filled with failures (an eleventh send may have left while
    # the tenth failure was still being served)
    assert 10 <= run.sends_to("t1", until=opened + 1e-9) <= 11
    half_open = events[1][1]
    assert kinds[1] == "half_open" and half_open - opened == pytest.approx(1.0)
    assert run.sends_to("t1", since=opened + 1e-9, until=half_open) == 0
    # the backend recovered at 1.5 s: the half-open trials succeed and it closes
    assert "closed" in kinds
    closed_at = next(at for kind, at in events if kind == "closed")
    assert run.shares(since=closed_at + 0.2)["t1"] == pytest.approx(0.25, abs=0.02)


def test_a_hanging_backend_under_fail_fast_times_out_at_the_deadline():
    run = world(fleet(FOUR, faults=[fault("t0", "hang")]), rate=100, duration_s=2.0, deadline_s=0.2)
    timeouts = [r for r in run.replies if run.status_of(r) == "timeout"]
    assert len(timeouts) == pytest.approx(len(run.replies) / 4, rel=0.1)
    for rid in timeouts:
        assert run.reply_at[rid] - run.sent_at[rid] == pytest.approx(0.2)
        assert run.replies[rid][0].backend == ""


def test_no_backend_means_unavailable_and_too_many_pending_means_overloaded():
    router = Router(RouterConfig(max_pending=2), [], rng=random.Random(1))
    assert router.on_request(0.0, 1)[0].status == "unavailable"
    router.on_join(0.0, Backend("a"))
    router.on_request(0.0, 2)
    router.on_request(0.0, 3)
    (reply,) = router.on_request(0.0, 4)
    assert (reply.request, reply.status) == (4, "overloaded")
    assert router.stats.outcomes["overloaded"] == 1


def test_a_backend_leaving_fails_over_its_requests_in_flight():
    # eight requests a millisecond apart, each served for half a second
    run = World(
        scenario(
            fleet({f"t{i}": fixed(0.5) for i in range(4)}),
            modes=("retry",),
            rate=1000,
            duration_s=0.0075,
            arrival="constant",
            deadline_s=2.0,
            settings={"failover.retry.per_try_timeout_s": 1.0, "panic_threshold": 0.0},
        )
    )
    run.run(until=0.1)
    run.simulation.carry_out(run.router.on_leave(run.now, "t0"))
    run.run()
    assert run.outcome_counts() == Counter({"ok": 8})
    assert all(s.backend != "t0" for t, s in run.sends if t >= 0.1)


def test_panic_spreads_over_heartbeat_down_backends_when_too_few_are_healthy():
    # heartbeats stop on three of four backends at 1 s: too few healthy
    run = world(
        fleet(FOUR, faults=[fault(t, "drop", 1.0) for t in ("t0", "t1", "t2")]),
        modes=("eject",),
        duration_s=3.0,
        settings={"panic_threshold": 0.5},
    )
    assert run.router.panic
    assert "panic" in [e.kind for e in run.router.events]
    assert run.sends_to("t0", since=2.0) > 0
