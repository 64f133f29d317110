"""Failover scenarios on the fake fleet: what each mode does when backends fail."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lbbench.core.backends import Backend
from lbbench.core.config import FailoverConfig, RouterConfig
from lbbench.core.failover import BreakerConfig, EjectConfig, HedgeConfig, RetryConfig
from lbbench.core.router import Router
from tests.unit.fleet import FakeBackend, Fleet, exponential, fixed


def make_fleet(
    modes: tuple[str, ...],
    *,
    strategy: str = "round_robin",
    tiers: dict[str, int] | None = None,
    service: dict[str, float] | None = None,
    seed: int = 1,
    deadline_s: float = 1.0,
    panic_threshold: float = 0.0,
    **failover,
) -> Fleet:
    tiers = tiers or {f"t{i}": 0 for i in range(4)}
    service = service or {}
    router = Router(
        RouterConfig(
            strategy=strategy,
            failover=FailoverConfig(modes=modes, settings=failover),
            deadline_s=deadline_s,
            panic_threshold=panic_threshold,
        ),
        [Backend(i, tier=t) for i, t in tiers.items()],
        rng=random.Random(seed),
    )
    backends = {i: FakeBackend(i, exponential(service.get(i, 0.002)), capacity=8) for i in tiers}
    return Fleet(router, backends, seed=seed)


def test_fail_fast_passes_a_failing_backend_errors_to_clients():
    fleet = make_fleet(("fail_fast",))
    fleet.backends["t1"].mode = "error"
    fleet.poisson(200, 5.0)
    fleet.run(5.0)
    fleet.drain()
    counts = fleet.outcome_counts()
    # round robin: one request in four lands on t1 and fails
    assert counts["error"] / sum(counts.values()) == pytest.approx(0.25, abs=0.01)
    assert fleet.router.stats.counters["retries"] == 0


def test_retry_turns_those_errors_into_successes_and_never_goes_back():
    fleet = make_fleet(("retry",))
    fleet.backends["t1"].mode = "error"
    fleet.poisson(200, 5.0)
    fleet.run(5.0)
    fleet.drain()
    counts = fleet.outcome_counts()
    assert counts == Counter({"ok": len(fleet.replies)})
    retried = [sends for sends in fleet.attempts_of.values() if len(sends) > 1]
    assert retried, "no request was retried"
    for sends in retried:
        backends = [s.backend for s in sends]
        assert backends[0] == "t1"
        assert "t1" not in backends[1:]
        assert len(set(backends)) == len(backends)


def test_retry_after_a_timeout_goes_elsewhere_and_answers_in_time():
    fleet = make_fleet(("retry",), retry=RetryConfig(per_try_timeout_s=0.05))
    fleet.backends["t2"].mode = "hang"
    fleet.poisson(200, 3.0)
    fleet.run(3.0)
    fleet.drain()
    assert fleet.outcome_counts() == Counter({"ok": len(fleet.replies)})
    slowest = max(fleet.reply_at[r] - fleet.sent_at[r] for r in fleet.replies)
    assert slowest < 0.05 + 0.03 + 0.05  # per-try timeout + backoff cap + service


def test_eject_takes_a_failing_backend_out_after_the_threshold_and_back_after_backoff():
    eject = EjectConfig(consecutive_failures=5, base_ejection_s=1.0)
    fleet = make_fleet(("eject",), eject=eject)
    fleet.backends["t1"].mode = "error"
    fleet.at(2.0, lambda: setattr(fleet.backends["t1"], "mode", "ok"))
    fleet.poisson(400, 6.0)
    fleet.run(6.0)
    fleet.drain()
    events = [
        e for e in fleet.router.events if e.backend == "t1" and e.kind in ("eject", "uneject")
    ]
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["eject", "uneject"]
    first_eject, first_back = events[0], events[1]
    # exactly the threshold of failures reached t1 before it was ejected
    assert fleet.sends_to("t1", until=first_eject.at) == 5
    # ejected for base x 1 = 1 s, and nothing sent to it meanwhile
    assert first_back.at - first_eject.at == pytest.approx(1.0)
    assert fleet.sends_to("t1", since=first_eject.at + 1e-9, until=first_back.at) == 0
    # after it recovered (t = 2 s) it stays in and takes its share again
    last_back = [e for e in events if e.kind == "uneject"][-1]
    assert fleet.shares(since=last_back.at + 0.5)["t1"] == pytest.approx(0.25, abs=0.02)


def test_repeated_ejections_last_longer_up_to_the_cap():
    eject = EjectConfig(consecutive_failures=3, base_ejection_s=0.5, max_ejection_s=1.0)
    fleet = make_fleet(("eject",), eject=eject)
    fleet.backends["t1"].mode = "error"
    fleet.poisson(400, 6.0)
    fleet.run(6.0)
    fleet.drain()
    out = [e for e in fleet.router.events if e.backend == "t1" and e.kind == "eject"]
    back = [e for e in fleet.router.events if e.backend == "t1" and e.kind == "uneject"]
    durations = [round(b.at - o.at, 6) for o, b in zip(out, back, strict=False)]
    assert durations[:4] == [0.5, 1.0, 1.0, 1.0]


def test_eject_holds_a_crashed_backend_out_until_its_heartbeats_return():
    eject = EjectConfig(
        base_ejection_s=0.5, heartbeat_interval_s=0.1, heartbeat_down_after=3, heartbeat_up_after=2
    )
    fleet = make_fleet(("eject", "retry"), eject=eject, retry=RetryConfig(per_try_timeout_s=0.05))
    crash, recover = 1.0, 3.0
    fleet.at(crash, lambda: setattr(fleet.backends["t3"], "mode", "silent"))
    fleet.at(recover, lambda: setattr(fleet.backends["t3"], "mode", "ok"))
    fleet.poisson(400, 5.0)
    fleet.run(5.0)
    fleet.drain()
    events = [e for e in fleet.router.events if e.backend == "t3"]
    down = next(e for e in events if e.kind == "down")
    up = next(e for e in events if e.kind == "up")
    detected = min(e.at for e in events if e.kind in ("down", "eject"))
    assert crash < detected < crash + 0.5
    assert down.at < crash + 0.45
    # no request reached it between detection and recovery
    assert fleet.sends_to("t3", since=down.at, until=up.at) == 0
    assert recover < up.at < recover + 0.35
    assert fleet.shares(since=up.at + 0.2)["t3"] == pytest.approx(0.25, abs=0.03)
    assert fleet.outcome_counts() == Counter({"ok": len(fleet.replies)})


def test_primary_backup_spills_only_while_primaries_are_down_and_gives_it_back():
    tiers = {"p0": 0, "p1": 0, "b0": 1}
    eject = EjectConfig(heartbeat_interval_s=0.1)
    fleet = make_fleet(("primary_backup", "eject"), tiers=tiers, eject=eject)
    down_at, up_at = 2.0, 4.0
    for primary in ("p0", "p1"):
        fleet.at(down_at, lambda p=primary: setattr(fleet.backends[p], "mode", "silent"))
        fleet.at(up_at, lambda p=primary: setattr(fleet.backends[p], "mode", "ok"))
    fleet.poisson(300, 7.0)
    fleet.run(7.0)
    fleet.drain()
    assert fleet.sends_to("b0", until=down_at) == 0
    assert fleet.sends_to("b0", since=down_at + 0.5, until=up_at) > 0
    assert fleet.shares(since=down_at + 0.5, until=up_at)["b0"] == 1.0
    assert fleet.sends_to("b0", since=up_at + 0.5) == 0


def test_primary_backup_keeps_primaries_while_most_are_healthy():
    tiers = {"p0": 0, "p1": 0, "p2": 0, "p3": 0, "b0": 1}
    fleet = make_fleet(("primary_backup", "eject"), tiers=tiers)
    fleet.at(1.0, lambda: setattr(fleet.backends["p0"], "mode", "silent"))
    fleet.poisson(300, 4.0)
    fleet.run(4.0)
    fleet.drain()
    # one of four primaries down: 75 % x 1.4 >= 100 %, so the backup stays idle
    assert fleet.sends_to("b0") == 0


def test_hedge_sends_at_most_one_extra_attempt_and_cancels_the_loser():
    fleet = make_fleet(
        ("hedge",),
        hedge=HedgeConfig(delay_s=0.01, budget_ratio=1.0),
        service={"t0": 0.05},
    )
    fleet.backends["t0"].service = fixed(0.05)
    for name in ("t1", "t2", "t3"):
        fleet.backends[name].service = fixed(0.002)
    fleet.poisson(200, 3.0)
    fleet.run(3.0)
    fleet.drain()
    assert fleet.outcome_counts() == Counter({"ok": len(fleet.replies)})
    assert max(len(s) for s in fleet.attempts_of.values()) == 2
    hedged = [rid for rid, s in fleet.attempts_of.items() if len(s) == 2]
    # every request that went to slow t0 first was hedged, and the hedge won
    assert hedged and all(fleet.attempts_of[rid][0].backend == "t0" for rid in hedged)
    cancelled = {c.attempt for c in fleet.cancels}
    for rid in hedged:
        first, second = fleet.attempts_of[rid]
        assert first.attempt in cancelled and second.attempt not in cancelled
        assert fleet.reply_at[rid] - fleet.sent_at[rid] < 0.02
    stats = fleet.router.stats
    assert (
        stats.counters["hedges"] == len(hedged) == stats.counters["hedge_wins"] == stats.cancelled
    )


def test_hedge_delay_follows_the_latency_percentile():
    fleet = make_fleet(("hedge",), hedge=HedgeConfig(percentile=90.0, min_samples=50))
    for backend in fleet.backends.values():
        backend.service = exponential(0.004)
    fleet.poisson(300, 5.0)
    fleet.run(5.0)
    fleet.drain()
    hedged = sum(1 for s in fleet.attempts_of.values() if len(s) == 2)
    # hedging after the p90 hedges about 10 % of requests
    assert 0.05 <= hedged / len(fleet.replies) <= 0.15


def test_retry_budget_caps_attempts_per_request_under_total_failure():
    retry = RetryConfig(max_attempts=5, budget_ratio=0.2, budget_min_retries=10)
    fleet = make_fleet(("retry",), retry=retry)
    for backend in fleet.backends.values():
        backend.mode = "error"
    fleet.poisson(500, 30.0)
    fleet.run(30.0)
    fleet.drain()
    requests = len(fleet.replies)
    attempts = fleet.router.stats.attempts
    assert fleet.outcome_counts() == Counter({"error": requests})
    assert attempts / requests <= 1 + 0.2
    assert fleet.router.stats.counters["budget_exhausted"] > 0


def test_circuit_breaker_opens_stays_open_then_half_opens_and_closes():
    breaker = BreakerConfig(
        window=10, min_requests=10, failure_ratio=0.5, open_s=1.0, half_open_trials=2
    )
    fleet = make_fleet(("circuit_breaker",), circuit_breaker=breaker)
    fleet.backends["t1"].mode = "error"
    fleet.at(1.5, lambda: setattr(fleet.backends["t1"], "mode", "ok"))
    fleet.poisson(400, 4.0)
    fleet.run(4.0)
    fleet.drain()
    events = [(e.kind, e.at) for e in fleet.router.events if e.backend == "t1" and e.kind != "join"]
    kinds = [k for k, _ in events]
    assert kinds[0] == "open"
    opened = events[0][1]
    assert fleet.sends_to("t1", until=opened + 1e-9) == 10  # the window filled with failures
    half_open = events[1][1]
    assert kinds[1] == "half_open" and half_open - opened == pytest.approx(1.0)
    assert fleet.sends_to("t1", since=opened + 1e-9, until=half_open) == 0
    # the backend recovered at 1.5 s: the half-open trials succeed and it closes
    assert "closed" in kinds
    closed_at = next(at for kind, at in events if kind == "closed")
    assert fleet.shares(since=closed_at + 0.2)["t1"] == pytest.approx(0.25, abs=0.02)


def test_a_hanging_backend_under_fail_fast_times_out_at_the_deadline():
    fleet = make_fleet(("fail_fast",), deadline_s=0.2)
    fleet.backends["t0"].mode = "hang"
    fleet.poisson(100, 2.0)
    fleet.run(2.0)
    fleet.drain()
    timeouts = [r for r in fleet.replies if fleet.status_of(r) == "timeout"]
    assert len(timeouts) == pytest.approx(len(fleet.replies) / 4, rel=0.1)
    for rid in timeouts:
        assert fleet.reply_at[rid] - fleet.sent_at[rid] == pytest.approx(0.2)
        assert fleet.replies[rid][0].backend == ""


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
    fleet = make_fleet(("retry",), retry=RetryConfig(per_try_timeout_s=1.0), deadline_s=2.0)
    for backend in fleet.backends.values():
        backend.service = fixed(0.5)
    for i in range(8):
        fleet.request(0.001 * i)
    fleet.run(0.1)
    fleet._apply(fleet.router.on_leave(fleet.now, "t0"))
    fleet.drain()
    assert fleet.outcome_counts() == Counter({"ok": 8})
    assert all(s.backend != "t0" for _, s in fleet.sends if _ >= 0.1)


def test_panic_spreads_over_heartbeat_down_backends_when_too_few_are_healthy():
    fleet = make_fleet(("eject",), panic_threshold=0.5)
    # heartbeats stop but requests are still served (a broken health path)
    for name in ("t0", "t1", "t2"):
        fleet.at(1.0, lambda n=name: setattr(fleet.backends[n], "mode", "silent"))
    fleet.poisson(200, 3.0)
    fleet.run(3.0)
    fleet.drain()
    assert fleet.router.panic
    kinds = [e.kind for e in fleet.router.events]
    assert "panic" in kinds
    assert fleet.sends_to("t0", since=2.0) > 0
