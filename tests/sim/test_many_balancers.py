"""Many balancers sharing one fleet in the simulator (``balancers = N``, ``view``).

Scenario tables: one balancer is the simulator it always was (seeded
digests taken before many balancers existed); nothing is lost and every
balancer's accounting adds up to the fleet's; least connections herds when
its balancers see only stale reports, p2c degrades gracefully; each
balancer's requests follow the split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from lbbench.core.faults import Fault
from lbbench.core.latency import Latency
from lbbench.errors import ConfigError
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec
from lbbench.scenario.scenario import Scenario
from lbbench.scenario.suites import load_suite
from lbbench.sim import Simulation
from lbbench.vocabulary import OUTCOMES

# Digests of the measured figures of seeded 3 s trials (seed 7), taken on the commit
# before many balancers came in (cce9a54) and unchanged after: one balancer is today's
# simulator, bit for bit. A change of any strategy, failover mode or of the engine that
# moves a figure changes them; regenerate only for a change meant to move results.
GOLDEN = [
    ("slow-node", "least_connections with eject+retry", "01ad2235e06918ff"),
    ("slow-node", "p2c with hedge", "87284447a06fdfd9"),
    ("slow-node", "peak_ewma with retry", "5bf99a62be84a722"),
    ("prequal", "probing at load 0.6", "70b4df5ff8044ce5"),
    ("default", "eject+retry under crash-recover", "92c906ce34fc618b"),
]


def simulate(scenario: Scenario, seed: int = 7) -> dict:
    simulation = Simulation(scenario, seed)
    simulation.run()
    return simulation.finish()


def measured(result: dict) -> str:
    figures = {
        "requests": result["requests"],
        "histograms": result["histograms"],
        "attempts": [b["attempts"] for b in result["backends"]],
        "failover": result["failover"],
    }
    return hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()[:16]


@pytest.mark.parametrize(("suite", "name", "digest"), GOLDEN)
def test_one_balancer_is_the_simulator_it_always_was(suite, name, digest):
    scenario = next(s for s in load_suite(suite).scenarios if s.name == name)
    scenario = replace(scenario, load=replace(scenario.load, duration_s=3))
    assert scenario.balancers == 1
    assert "balancers" not in scenario.key
    result = simulate(scenario)
    assert "balancers" not in result
    assert measured(result) == digest


def fleet(n: int = 8, slow: int = 0, faults: tuple[Fault, ...] = ()) -> FleetProfile:
    """``n`` one-at-a-time targets of 10 ms mean exponential service; ``slow`` of them 5x slower."""
    targets = tuple(
        TargetSpec(
            f"b{i}",
            capacity=1,
            latency=Latency("exponential", (("mean_ms", 50.0 if i < slow else 10.0),)),
        )
        for i in range(n)
    )
    return FleetProfile("test", "test fleet", targets, faults)


def scenario(
    strategy: str = "least_connections",
    balancers: int = 1,
    view: str = "local",
    period_s: float = 0.1,
    modes: tuple[str, ...] = ("fail_fast",),
    profile: FleetProfile | None = None,
    rate: float = 560.0,
    duration_s: float = 10.0,
    split: str = "even",
) -> Scenario:
    settings = {"view": view, "view_period_s": period_s} if view != "local" else {}
    made = Scenario(
        name="many",
        profile=profile or fleet(),
        strategy=strategy,
        failover=modes,
        load=LoadSpec(rate=rate, duration_s=duration_s),
        settings=tuple(sorted(settings.items())),
        balancers=balancers,
        balancers_split=split,
    )
    made.validate()
    return made


ACCOUNTING = [
    # strategy, balancers, view, failover modes, faults
    ("least_connections", 5, "local", ("fail_fast",), ()),
    ("p2c", 7, "reports", ("eject", "retry"), (Fault(2.0, "b1", "crash", 3.0),)),
    ("peak_ewma", 3, "local", ("hedge",), (Fault(1.0, "b2", "slow", 4.0, {"factor": 10}),)),
    ("round_robin", 4, "local", ("retry",), (Fault(1.0, "b3", "error_rate", 4.0, {"p": 0.5}),)),
    ("probing", 6, "probes", ("eject",), (Fault(2.0, "b0", "hang", 2.0),)),
]


@pytest.mark.parametrize(("strategy", "balancers", "view", "modes", "faults"), ACCOUNTING)
def test_every_balancers_accounting_adds_up_to_the_fleets(strategy, balancers, view, modes, faults):
    result = simulate(
        scenario(strategy, balancers, view, modes=modes, profile=fleet(faults=faults))
    )
    requests = result["requests"]
    assert requests["lost"] == 0
    assert requests["sent"] == sum(requests[s] for s in OUTCOMES)
    rows = result["balancers"]["rows"]
    assert len(rows) == balancers
    assert sum(r["requests"] for r in rows) == requests["sent"]
    for status in OUTCOMES:
        assert sum(r["outcomes"].get(status, 0) for r in rows) == requests[status]
    assert sum(r["attempts"] for r in rows) == sum(b["attempts"] for b in result["backends"])
    # the requests in flight each attempt joined, counted over every balancer, once each
    assert sum(result["rif"]["counts"].values()) == sum(r["attempts"] for r in rows)
    assert all(r["requests"] > 0 for r in rows), "every balancer routed some of the load"


def mean_ms(result: dict) -> float:
    return result["latency_ms"]["corrected"]["mean"]


def test_least_connections_herds_on_stale_reports_and_p2c_degrades_gracefully():
    """Mitzenmacher 2000: with a bulletin board updated every T, every balancer sends to
    the same least-loaded backend until the next update; two choices spread the herd."""
    cells = {
        (strategy, view, period): mean_ms(simulate(scenario(strategy, 20, view, period)))
        for strategy in ("least_connections", "p2c")
        for view, period in (("reports", 0.01), ("reports", 0.2))
    }
    one_balancer = mean_ms(simulate(scenario("least_connections")))
    # older information, longer times: least connections by far the most
    lc_fresh, lc_stale = (
        cells["least_connections", "reports", 0.01],
        cells["least_connections", "reports", 0.2],
    )
    p2c_fresh, p2c_stale = cells["p2c", "reports", 0.01], cells["p2c", "reports", 0.2]
    assert lc_stale > 3 * lc_fresh
    assert lc_stale > 3 * p2c_stale, "stale reports herd least connections, not p2c"
    assert p2c_stale / p2c_fresh < 0.5 * (lc_stale / lc_fresh)
    assert one_balancer < lc_fresh


def test_requests_in_flight_are_counted_over_every_balancer():
    """What an attempt joins at its backend is every balancer's requests there, not the
    one balancer's own share: with 20 balancers each one's own count is mostly 0."""
    one = simulate(scenario("round_robin", 1))
    many = simulate(scenario("round_robin", 20))
    assert many["rif"]["p99"] >= 0.8 * one["rif"]["p99"]
    assert many["rif"]["mean"] > 1.0


def test_least_connections_loses_its_edge_when_each_balancer_counts_only_its_own():
    """Each of 50 balancers holds a fiftieth of the load: its own counts are mostly zero,
    its ties go round robin, and the fleet sees about what random picks give."""
    means = {n: mean_ms(simulate(scenario("least_connections", n))) for n in (1, 5, 50)}
    random_mean = mean_ms(simulate(scenario("random", 1)))
    assert means[1] < means[5] < means[50]
    assert means[50] == pytest.approx(random_mean, rel=0.1)
    assert means[1] < 0.5 * random_mean


@pytest.mark.parametrize(
    ("split", "first_share"),
    [
        ("even", 1 / 4),
        ("zipf", 1 / (1 + 1 / 2 + 1 / 3 + 1 / 4)),
        ("zipf:2", 1 / (1 + 1 / 4 + 1 / 9 + 1 / 16)),
    ],
)
def test_requests_follow_the_split(split, first_share):
    result = simulate(scenario("p2c", 4, split=split, rate=2000.0, duration_s=5.0))
    rows = result["balancers"]["rows"]
    sent = result["requests"]["sent"]
    assert rows[0]["requests"] / sent == pytest.approx(first_share, abs=0.02)
    if split != "even":
        shares = [r["requests"] for r in rows]
        assert shares == sorted(shares, reverse=True)


def first_ejections(result: dict, target: str) -> dict[int, float]:
    """When each balancer first ejected ``target`` (seconds into the load)."""
    first: dict[int, float] = {}
    for event in result["events"]:
        if event["kind"] == "eject" and event["backend"] == target:
            first.setdefault(event.get("balancer", 0), event["at"])
    return first


def test_each_balancer_ejects_on_its_own_failures_so_later():
    """A target failing every call: every balancer ejects it, each after its own run of
    consecutive failures, which five balancers, each with a fifth of the calls, take
    longer to see than one balancer does."""
    failing = fleet(faults=(Fault(1.0, "b1", "error_rate", 4.0, {"p": 1.0}),))
    one = simulate(scenario("round_robin", 1, modes=("eject", "retry"), profile=failing))
    five = simulate(scenario("round_robin", 5, modes=("eject", "retry"), profile=failing))
    part = five["balancers"]
    assert part["ejected_by"] == {"b1": 5}
    assert all(row["ejected"] == ["b1"] for row in part["rows"])
    alone = first_ejections(one, "b1")[0] - 1.0
    each = [at - 1.0 for at in first_ejections(five, "b1").values()]
    assert len(each) == 5
    assert sum(each) / len(each) > 2 * alone


def test_many_balancers_have_their_own_key():
    assert scenario(balancers=1).key == replace(scenario(balancers=1), balancers=1).key
    assert scenario(balancers=10).key.endswith("/balancers=10")
    assert scenario(balancers=10, split="zipf").key.endswith("/balancers=10,split=zipf")
    assert "/view=reports" in scenario("p2c", 10, "reports").key


BAD = [
    # change, where, words
    ({"balancers": 0}, "balancers", "must be >= 1"),
    ({"balancers": 2.5}, "balancers", "must be an integer"),
    ({"balancers_split": "pareto", "balancers": 3}, "balancers_split", "unknown split 'pareto'"),
    ({"balancers_split": "zipf:-1", "balancers": 3}, "balancers_split", "must be > 0"),
    ({"balancers_split": "zipf:x", "balancers": 3}, "balancers_split", "must be a number"),
    ({"balancer": "envoy", "balancers": 3}, "balancers", "many balancers are lbbench's"),
]


@pytest.mark.parametrize(("change", "where", "words"), BAD)
def test_bad_many_balancers_input_names_the_key(change, where, words):
    with pytest.raises(ConfigError) as raised:
        replace(scenario(), **change).validate()
    assert raised.value.where == where
    assert words in raised.value.message


@pytest.mark.parametrize(
    ("strategy", "view", "words"),
    [
        ("round_robin", "reports", "round_robin cannot use view 'reports'"),
        ("p2c", "probes", "p2c cannot use view 'probes'"),
        ("probing", "reports", "probing cannot use view 'reports'"),
        ("p2c", "gossip", "unknown view 'gossip'"),
    ],
)
def test_a_view_a_strategy_cannot_use_is_refused(strategy, view, words):
    with pytest.raises(ConfigError) as raised:
        scenario(strategy, 4, view)
    assert raised.value.where == "view"
    assert words in raised.value.message


def test_the_client_side_suite_gives_its_answer():
    """``suites/client-side.toml`` in short (4 s, one seed): one proxy that sees every
    call beats every client-side policy; of these, latency-aware peak EWMA beats each
    client's own least-connections count; fresh reports help p2c and herd least
    connections; reports a second old make least connections fail calls."""
    suite = load_suite("client-side")
    cells = {
        s.name: replace(s, load=replace(s.load, duration_s=4.0))
        for s in suite.scenarios
        if s.name.endswith("with fail_fast")
    }

    def p99(label: str) -> float:
        return simulate(cells[f"{label} with fail_fast"], seed=1)["latency_ms"]["corrected"]["p99"]

    proxy = p99("least_connections in one proxy that sees every call")
    peak_ewma = p99("peak_ewma on its own calls")
    own_count = p99("least_connections on its own calls")
    assert proxy < peak_ewma < own_count
    assert p99("p2c on reports every 50 ms") < p99("least_connections on reports every 50 ms")
    stale = simulate(cells["least_connections on reports every 1 s with fail_fast"], seed=1)
    assert stale["error_rate"] > 0.1
    assert cells["least_connections on its own calls with fail_fast"].balancers == 20


def test_the_many_balancers_winner_map_moves_from_least_connections_to_probing():
    """``suites/winner-map-clients.toml`` in one cell (a backend slowed 10x, load 0.9,
    failing fast; 4 s, one seed): one balancer's exact counts win; 100 balancers each
    counting its own calls send the slow servers a hundredth of the load each and
    time calls out, while probes (the servers' own queues) still hold."""
    suite = load_suite("winner-map-clients")
    cells = {s.name: replace(s, load=replace(s.load, duration_s=4.0)) for s in suite.scenarios}

    def run(strategy: str, balancers: int) -> dict:
        name = f"{strategy} fail_fast | slow, {balancers} balancers, load 0.9"
        return simulate(cells[name], seed=1)

    one_lc, one_probing = run("least_connections", 1), run("probing", 1)
    many_lc, many_probing = run("least_connections", 100), run("probing", 100)

    def p99(result: dict) -> float:
        return result["latency_ms"]["corrected"]["p99"]

    assert p99(one_lc) < p99(one_probing)
    assert p99(many_probing) < p99(many_lc)
    assert many_lc["error_rate"] > 0.01 > many_probing["error_rate"]
