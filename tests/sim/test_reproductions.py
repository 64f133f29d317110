"""Published results, reproduced: each shipped reproduction, reduced, keeps the published effect.

A reduced run (one trial, simulated) of each reproduction suite must show
the direction of the published effect and roughly its size; the full runs,
with their figures beside the published ones, are in the README.
"""

from __future__ import annotations

import pytest

from lbbench import api
from lbbench.results.published import published_rows
from lbbench.scenario.suites import load_suite


@pytest.fixture(scope="module")
def linkerd():
    return api.run("linkerd-2016", simulated=True, trials=1)


def test_linkerd_2016_success_rates_are_in_the_published_order(linkerd):
    errors = {s.name: s.value("error_rate") for s in linkerd.scenarios}
    # peak EWMA above least loaded (p2c) above round robin, as published
    assert errors["peak_ewma"] < errors["p2c"] < errors["round_robin"]
    assert errors["least_connections"] < errors["round_robin"]


# (scenario, published error rate, how far ours may be from it, in points)
LINKERD = [
    ("round_robin", 0.05, 0.01),  # 1 in 11 requests for half the run: 4.5 %
    ("p2c", 0.01, 0.005),
    ("peak_ewma", 0.001, 0.003),
]


@pytest.mark.parametrize(("scenario", "published", "within"), LINKERD)
def test_linkerd_2016_error_rates_are_near_the_published_ones(linkerd, scenario, published, within):
    assert abs(linkerd.scenario(scenario).value("error_rate") - published) <= within


def test_the_published_figures_are_printed_beside_ours(linkerd):
    suite = load_suite("linkerd-2016")
    rows = {row["scenario"]: row for row in published_rows(linkerd.data, suite.published)}
    assert rows["round_robin"]["published"] == 0.05
    assert rows["round_robin"]["ours"] == linkerd.scenario("round_robin").value("error_rate")
    assert rows["round_robin"]["difference"] == pytest.approx(rows["round_robin"]["ours"] - 0.05)


@pytest.fixture(scope="module")
def tail_at_scale():
    return api.run("tail-at-scale", simulated=True, trials=1)


def test_tail_at_scale_a_hedge_after_10_ms_cuts_the_p999_for_a_few_percent_more_requests(
    tail_at_scale,
):
    plain = tail_at_scale.scenario("no hedging")
    hedged = tail_at_scale.scenario("hedge after 10 ms")
    at_p95 = tail_at_scale.scenario("hedge at p95")
    # published: 1 800 ms to 74 ms (24x) for 2 % more requests
    assert plain.value("p99.9") >= 1500  # the stalls make the tail
    assert plain.value("p99.9") / hedged.value("p99.9") >= 10
    assert 0.01 <= hedged.value("extra_attempts") <= 0.04
    assert plain.value("extra_attempts") == 0
    # hedging at the p95 sends about 5 % more, and cuts the tail as well
    assert 0.04 <= at_p95.value("extra_attempts") <= 0.08
    assert plain.value("p99.9") / at_p95.value("p99.9") >= 10


@pytest.fixture(scope="module")
def prequal():
    only = [f"{s} at load {load}" for s in ("weighted_round_robin", "least_connections", "probing")
            for load in ("0.6", "1.2")]  # fmt: skip
    return api.run("prequal", simulated=True, trials=1, only=only)


def test_prequal_probing_cuts_the_tail_and_the_tail_rif_of_wrr_past_the_allocation(prequal):
    wrr = prequal.scenario("weighted_round_robin at load 1.2")
    probing = prequal.scenario("probing at load 1.2")
    # published: tail latency about 2x lower, tail requests in flight 5-10x lower
    assert probing.value("p99") / wrr.value("p99") <= 0.5
    assert probing.value("rif_p99") / wrr.value("rif_p99") <= 0.25
    assert wrr.value("p99") >= 3 * prequal.scenario("weighted_round_robin at load 0.6").value("p99")


def test_prequal_probing_routes_on_latency_so_it_leads_at_low_load(prequal):
    # with the antagonists quiet on some machines, the latency it probes beats counting
    assert prequal.scenario("probing at load 0.6").value("p99") < prequal.scenario(
        "least_connections at load 0.6"
    ).value("p99")


def test_prequal_in_its_own_setting_many_clients_probing_leads():
    """The paper's clients each balance their own requests: with 100 of them no client's
    count of requests in flight is exact, and probing, which asks the servers, beats
    least connections at 1.2 of the allocation (with one balancer least connections
    leads there). Short runs (4 s, one seed) of the suite's cells."""
    from dataclasses import replace

    from lbbench.scenario.suites import load_suite
    from lbbench.sim import Simulation

    cells = {s.name: s for s in load_suite("prequal").scenarios}

    def p99(name: str) -> float:
        scenario = cells[name]
        simulation = Simulation(replace(scenario, load=replace(scenario.load, duration_s=4.0)), 1)
        simulation.run()
        return simulation.finish()["latency_ms"]["corrected"]["p99"]

    probing = p99("probing at load 1.2, 100 clients")
    least = p99("least_connections at load 1.2, 100 clients")
    wrr = p99("weighted_round_robin at load 1.2, 100 clients")
    assert probing < 0.8 * least
    assert probing <= 0.5 * wrr
