"""Prequal's parts, each alone: the server's probe answer, the antagonist, the client's rules."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest

from lbbench.core.backends import Backend, BackendState
from lbbench.core.fault_state import FaultState
from lbbench.core.faults import parse_command
from lbbench.core.service import RIF_WINDOW, ServiceQueue
from lbbench.core.strategies import Pool, make_strategy
from lbbench.errors import ConfigError

# ---------------------------------------------------------------- the server's answer


class Server:
    """A service queue with a fixed service time and a clock the test moves."""

    def __init__(self, capacity: int, service_s: float) -> None:
        self.ends: list[tuple[float, tuple]] = []
        self.queue = ServiceQueue(
            capacity,
            FaultState(),
            lambda work: service_s,
            lambda at, job: self.ends.append((at, job)),
        )

    def run_until_idle(self) -> None:
        while self.ends:
            self.ends.sort(key=lambda end: end[0])
            at, job = self.ends.pop(0)
            self.queue.finish(job, at)


def test_a_probe_reports_no_latency_before_any_job_ended():
    assert Server(1, 0.01).queue.latency_estimate() == 0.0


def test_the_estimate_is_that_of_jobs_that_found_the_same_requests_in_flight():
    server = Server(1, 0.010)
    # three jobs at once on one thread: they found 0, 1 and 2 in flight and took 10, 20, 30 ms
    for key in range(3):
        server.queue.offer(key, None, 0.0)
    server.run_until_idle()
    queue = server.queue
    assert queue.in_flight == 0
    assert queue.latency_estimate() == pytest.approx(0.010)  # idle: what a job alone took
    queue.offer("a", None, 1.0)
    assert queue.latency_estimate() == pytest.approx(0.020)  # one ahead: what one behind one took
    queue.offer("b", None, 1.0)
    assert queue.latency_estimate() == pytest.approx(0.030)


def test_an_unseen_requests_in_flight_takes_the_nearest_seen_one():
    server = Server(1, 0.010)
    for key in range(2):
        server.queue.offer(key, None, 0.0)
    server.run_until_idle()  # seen: 0 (10 ms) and 1 (20 ms)
    for key in range(5):
        server.queue.offer(f"late{key}", None, 1.0)
    assert server.queue.in_flight == 5
    assert server.queue.latency_estimate() == pytest.approx(0.020)


def test_the_estimate_is_the_median_of_the_last_few():
    times = iter([0.001, 0.002, 0.100] + [0.004] * RIF_WINDOW)
    ends: list = []
    queue = ServiceQueue(
        1, FaultState(), lambda work: next(times), lambda at, job: ends.append((at, job))
    )
    now = 0.0
    for count in range(3 + RIF_WINDOW):
        queue.offer(count, None, now)
        at, job = ends.pop()
        queue.finish(job, at)
        now = at + 1.0
        if count == 2:
            assert queue.latency_estimate() == pytest.approx(0.002)  # not the mean, 34 ms
    assert queue.latency_estimate() == pytest.approx(0.004)  # the old ones left the window


# ---------------------------------------------------------------- the antagonist


def antagonised(share_max: float = 0.5, dwell_s: float = 1.0, seed: int = 3) -> FaultState:
    faults = FaultState()
    command = parse_command(
        {"kind": "antagonist", "share_max": share_max, "dwell_s": dwell_s, "seed": seed}
    )
    faults.apply(command, 10.0)
    return faults


def test_the_antagonist_slows_within_its_bounds_and_changes_every_dwell():
    faults = antagonised(share_max=0.5, dwell_s=1.0)
    factors = [faults.factor_at(10.0 + t / 10) for t in range(600)]
    assert all(1.0 <= f <= 2.0 for f in factors)
    changes = sum(a != b for a, b in itertools.pairwise(factors))
    assert 55 <= changes <= 60  # one change a second over 60 s
    assert len(set(factors)) >= 55


def test_the_same_seed_gives_the_same_load_over_time_whatever_else_happens():
    a, b = antagonised(seed=5), antagonised(seed=5)
    b.factor_at(50.0)  # asked out of order: no state leaks into the answers
    times = [10.0 + t * 0.37 for t in range(100)]
    assert [a.factor_at(t) for t in times] == [b.factor_at(t) for t in times]
    assert [a.factor_at(t) for t in times] != [antagonised(seed=6).factor_at(t) for t in times]


def test_a_slow_fault_multiplies_with_the_antagonist():
    faults = antagonised()
    alone = faults.factor_at(12.5)
    faults.apply(parse_command({"kind": "slow", "factor": 3}), 12.0)
    assert faults.factor_at(12.5) == pytest.approx(3 * alone)
    faults.apply(parse_command({"kind": "recover"}), 13.0)
    assert faults.factor_at(13.5) == 1.0


@pytest.mark.parametrize(
    ("command", "where"),
    [
        ({"kind": "antagonist", "share_max": 1.0}, "share_max"),
        ({"kind": "antagonist", "dwell_s": 0}, "dwell_s"),
        ({"kind": "antagonist", "seed": -1}, "seed"),
        ({"kind": "antagonist", "share": 0.5}, "share"),
    ],
)
def test_a_bad_antagonist_is_refused_naming_the_field(command, where):
    with pytest.raises(ConfigError) as error:
        parse_command(command)
    assert where in str(error.value)


# ---------------------------------------------------------------- the client's rules


def fleet(count: int) -> list[BackendState]:
    return [BackendState(Backend(f"b{i}")) for i in range(count)]


def probing(**options):
    return make_strategy("probing", random.Random(1), options)


def test_the_defaults_are_the_papers():
    strategy = probing()
    assert (strategy.pool_size, strategy.hot_quantile, strategy.probes_per_request) == (
        16,
        0.84,
        3.0,
    )


@pytest.mark.parametrize(
    ("probes", "chosen", "why"),
    [
        # (backend, RIF, latency ms) per probe
        ([(0, 1, 9), (1, 1, 5), (2, 1, 7)], "b1", "all cold: the lowest latency"),
        ([(0, 1, 9), (1, 9, 1), (2, 1, 7), (3, 2, 8)], "b2", "b1 is hot (RIF above the quantile)"),
        ([(0, 3, 5), (1, 2, 5), (2, 3, 5)], "b1", "equal latency: the lowest RIF"),
    ],
)
def test_the_hot_cold_rule(probes, chosen, why):
    backends = fleet(4)
    strategy = probing(hot_quantile=0.5, remove_per_request=0)
    for index, rif, latency_ms in probes:
        strategy.on_probe(backends[index], rif, latency_ms / 1000, 0.0)
    assert strategy.pick(Pool(backends), SimpleNamespace(key=None), 0.01).id == chosen, why


def test_a_pick_removes_the_worst_probe_and_reuses_the_chosen_up_to_its_budget():
    backends = fleet(8)
    strategy = probing(hot_quantile=0.5, remove_per_request=1, max_reuse=2)
    for i, (rif, latency_ms) in enumerate([(1, 5), (1, 6), (1, 7), (9, 1)]):
        strategy.on_probe(backends[i], rif, latency_ms / 1000, 0.0)
    pool = Pool(backends)
    assert strategy.pick(pool, SimpleNamespace(key=None), 0.01).id == "b0"
    # the hot b3 went; b0 stays (one use of two) with its RIF raised to 2
    assert sorted(p.backend.id for p in strategy._pool) == ["b0", "b1", "b2"]
    assert strategy.pick(pool, SimpleNamespace(key=None), 0.02).id == "b1"  # b0 now has 2 in flight
    strategy.on_probe(backends[5], 0, 0.001, 0.03)
    assert strategy.pick(pool, SimpleNamespace(key=None), 0.04).id == "b5"


@pytest.mark.parametrize(
    ("fleet_size", "rate", "remove", "budget"),
    [
        # net probes a request: arrivals less those replacing a probe of the same
        # backend, less removals; the budget b is the least with net >= 1 / b + 1
        (1000, 4.0, 1.0, 1),  # 2.94 net: each probe used once
        (1000, 3.0, 1.0, 2),  # 1.95 net: once would leave less than the margin
        (100, 3.0, 1.0, 2),  # 1.52 net
        (20, 3.0, 1.0, 16),  # most probes replace one of the same backend: reuse them all
        (1000, 1.0, 1.0, 16),
    ],
)
def test_the_reuse_budget_keeps_the_pool_from_running_dry(fleet_size, rate, remove, budget):
    strategy = probing(probes_per_request=rate, remove_per_request=remove)
    assert strategy._reuse_budget(fleet_size) == budget


def test_probes_go_out_at_the_configured_rate_to_distinct_backends():
    backends = fleet(50)
    strategy = probing(probes_per_request=2.5)
    sent = [strategy.probes(Pool(backends), 0.0) for _ in range(4)]
    assert [len(s) for s in sent] == [2, 3, 2, 3]
    assert all(len({b.id for b in s}) == len(s) for s in sent)


def test_a_timed_fault_ends_but_the_antagonist_stays_until_a_recover():
    faults = antagonised()
    with_antagonist = faults.factor_at(12.5)
    faults.apply(parse_command({"kind": "error_rate", "p": 0.5}), 12.0)
    faults.end_timed()  # the error fault's duration is over
    assert (faults.error_p, faults.factor_at(12.5)) == (0.0, with_antagonist)
    assert not faults.healthy  # the service queue must keep asking
    faults.apply(parse_command({"kind": "recover"}), 13.0)
    assert (faults.healthy, faults.factor_at(13.5)) == (True, 1.0)
