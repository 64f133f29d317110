"""The simulation engine: the live router and service queues in simulated time.

Scenario tables: faults of every kind never lose a request; common random
numbers make strategies comparable; the arrival schedule is the live
generator's; failover behaves as on the live rig.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from lbbench.core.faults import Fault
from lbbench.core.latency import Latency
from lbbench.scenario.fleets import rate_for_utilization, synthetic_fleet
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec, load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.sim import SimOptions, Simulation, simulate_trial
from lbbench.vocabulary import OUTCOMES

FOUR = FleetProfile(
    "four",
    "four alike targets",
    tuple(
        TargetSpec(f"t{i}", latency=Latency("exponential", (("mean_ms", 2.0),))) for i in range(4)
    ),
)


def scenario(
    strategy="p2c", failover=("fail_fast",), faults=(), rate=800.0, duration=4.0, profile=FOUR
):
    return Scenario(
        name="test",
        profile=replace(profile, faults=tuple(faults)),
        strategy=strategy,
        failover=failover,
        load=LoadSpec(rate=rate, duration_s=duration),
    )


def run(sc, seed=1, options=None):
    simulation = Simulation(sc, seed, options or SimOptions())
    simulation.run()
    return simulation, simulation.finish()


def accounted(result) -> bool:
    requests = result["requests"]
    return requests["sent"] == sum(requests[s] for s in OUTCOMES) and requests["lost"] == 0


FAULTS = [
    # kind, parameters, failover modes
    ("crash", {}, ("fail_fast",)),
    ("crash", {}, ("eject", "retry")),
    ("hang", {}, ("fail_fast",)),
    ("hang", {}, ("retry",)),
    ("drop", {}, ("eject", "retry")),
    ("flap", {"period_s": 0.4}, ("eject", "retry")),
    ("stall", {}, ("hedge",)),
    ("error_rate", {"p": 0.5}, ("circuit_breaker", "retry")),
    ("slow", {"factor": 10.0}, ("eject",)),
]


@pytest.mark.parametrize("kind, params, modes", FAULTS)
def test_no_request_is_lost_under_any_fault(kind, params, modes):
    fault = Fault(1.0, "t1", kind, 1.5, tuple(params.items()))
    _, result = run(scenario(failover=modes, faults=[fault]))
    assert accounted(result), result["requests"]
    assert result["valid"]


@pytest.mark.parametrize(
    "modes, most_errors, least_errors",
    [
        (("fail_fast",), 0.20, 0.02),  # about t1's share of the 1.5 s out of 4
        (("retry",), 0.002, 0.0),
        (("eject", "retry"), 0.002, 0.0),
    ],
)
def test_a_crash_costs_what_the_failover_mode_lets_through(modes, most_errors, least_errors):
    fault = Fault(1.0, "t1", "crash", 1.5)
    _, result = run(scenario(strategy="round_robin", failover=modes, faults=[fault]))
    assert least_errors <= result["error_rate"] <= most_errors
    assert accounted(result)


def test_eject_detects_a_crash_at_once_and_takes_the_restart_back():
    fault = Fault(1.0, "t1", "crash", 1.0)
    _, result = run(scenario(failover=("eject", "retry"), faults=[fault]))
    timing = result["failover"]["faults"][0]
    assert timing["detection_s"] < 0.1
    # back after restart_s (0.5 s) plus a share window
    assert 0.5 <= timing["recovery_s"] < 1.5
    kinds = [e["kind"] for e in result["events"] if e["backend"] == "t1"]
    assert kinds.index("eject") < kinds.index("uneject")


def test_same_seed_same_result():
    a = run(scenario())[1]
    b = run(scenario())[1]
    assert a["histograms"] == b["histograms"] and a["backends"] == b["backends"]


def test_with_one_backend_every_strategy_sees_the_same_requests_and_work():
    # Common random numbers: no routing choice is left, so the runs are identical.
    one = FleetProfile("one", "one target", (TargetSpec("only", capacity=2),))
    results = [
        run(scenario(strategy=s, profile=one, rate=600.0))[1]
        for s in ("round_robin", "random", "p2c", "peak_ewma", "least_connections")
    ]
    assert len({r["histograms"]["corrected"] for r in results}) == 1
    assert len({r["requests"]["sent"] for r in results}) == 1


def test_strategies_differ_only_by_routing_on_the_same_arrivals():
    slow = synthetic_fleet(20, slow_fraction=0.1, slow_factor=10.0)
    rate = rate_for_utilization(slow, 0.6)
    rr = run(scenario(strategy="round_robin", profile=slow, rate=rate, duration=2.0))[1]
    p2c = run(scenario(strategy="p2c", profile=slow, rate=rate, duration=2.0))[1]
    assert rr["requests"]["sent"] == p2c["requests"]["sent"]
    assert p2c["latency_ms"]["corrected"]["p99"] < rr["latency_ms"]["corrected"]["p99"] / 2


def test_arrivals_follow_the_live_generators_schedule():
    spec = LoadSpec(rate=500.0, duration_s=3.0)
    rng = random.Random(7 * 1000)  # what loadgen seeds its first process with
    planned, t = 0, 0.0
    while t < spec.duration_s:
        planned += 1
        t += spec.next_gap(t, rng)
    simulation, _ = run(replace(scenario(), load=spec), seed=7)
    assert simulation.recorder.sent == planned


def test_nothing_grows_with_the_number_of_requests():
    simulation = Simulation(scenario(rate=6000.0, duration=5.0), 1, SimOptions())
    simulation.run()
    sent = simulation.recorder.sent
    assert sent > 29_000
    assert not simulation._requests  # every request answered and forgotten
    assert all(timer.ref.done for _, timer in simulation._stream_of["deadline"])
    # Latencies are kept as histogram buckets, not as values: below 1 s
    # (2**20 us) there are at most 2048 + 10 x 1024 buckets, however many requests.
    assert len(simulation._latency.counts) <= 2048 + 10 * 1024 < sent
    simulation.finish()
    assert simulation.recorder.corrected.get_total_count() == sent


def test_hops_add_four_times_their_delay_to_an_idle_fleet():
    fixed = FleetProfile(
        "fixed", "1 ms", (TargetSpec("t0", latency=Latency("fixed", (("ms", 1.0),))),)
    )
    sc = scenario(strategy="round_robin", profile=fixed, rate=50.0, duration=2.0)
    _, result = run(sc, options=SimOptions(hop_s=250e-6))
    assert result["latency_ms"]["corrected"]["p50"] == pytest.approx(2.0, abs=0.01)


def test_the_default_suite_simulates_with_the_live_scenario_keys():
    from lbbench.scenario.suites import load_suite

    suite = load_suite("default").scenarios
    result = simulate_trial(suite[-1], 0)
    assert accounted(result)
    assert result["generator"]["simulated"] is True
    assert load_profile("crash-recover").faults[0].kind == "crash"


def test_a_fault_after_the_load_ended_makes_the_trial_invalid():
    late = scenario(faults=[Fault(5.0, "t1", "crash", 1.0)], duration=2.0)
    _, result = run(late)
    assert not result["valid"]
    assert result["problems"] == [
        "fault crash on t1 at 5 s starts after the load ended (2 s): nothing measured it"
    ]
