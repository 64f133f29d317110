"""Suite files: defaults, matrices, settings by path, and one line for every bad input."""

from __future__ import annotations

import tomllib

import pytest

from lbbench.errors import ConfigError
from lbbench.scenario.suite_file import parse_suite
from lbbench.scenario.suites import load_suite, shipped_suites

SLOW_NODE = """
name = "slow-node"
trials = 3
seed = 7

[defaults]
load = { utilization = 0.7, duration_s = 4 }
failover.retry.budget_ratio = 0.2
failover.eject.consecutive_failures = 3

[defaults.fleet.synthetic]
backends = 8
capacity = 1
latency = { dist = "exponential", mean_ms = 10 }

[[scenario]]
name = "strategies"
faults = [{ at_s = 1, target = "b3", kind = "slow", factor = 10, duration_s = 2 }]
matrix.strategy = ["least_connections", "p2c", "peak_ewma"]
matrix.failover = ["fail_fast", "eject+retry"]

[[scenario]]
name = "budget {failover.retry.budget_ratio}"
strategy = "p2c"
failover = { modes = ["eject", "retry"] }
load = { duration_s = 2 }
matrix."failover.retry.budget_ratio" = [0.1, 0.5]

[rank]
by = ["error_rate", "p99"]
"""


def suite(text: str = SLOW_NODE, source: str = "s.toml"):
    return parse_suite(tomllib.loads(text), source)


def test_a_matrix_of_3_by_2_gives_6_scenarios_with_distinct_keys_and_their_settings():
    read = suite()
    grid = [s for s in read.scenarios if s.group == "strategies"]
    assert len(grid) == 6
    assert len({s.key for s in read.scenarios}) == len(read.scenarios) == 8
    assert [dict(s.cell) for s in grid[:2]] == [
        {"strategy": "least_connections", "failover": "fail_fast"},
        {"strategy": "least_connections", "failover": "eject+retry"},
    ]
    tuned = grid[1]
    assert tuned.failover == ("eject", "retry")
    assert dict(tuned.settings) == {
        "failover.eject.consecutive_failures": 3,
        "failover.retry.budget_ratio": 0.2,
    }
    assert dict(grid[0].settings) == {}  # fail_fast: the retry and eject settings change nothing
    resolved = tuned.resolved_settings()
    assert resolved["failover.retry.budget_ratio"] == 0.2
    assert resolved["failover.eject.consecutive_failures"] == 3


def test_defaults_the_load_key_by_key_and_utilization_of_the_fleet():
    read = suite()
    first, budget = read.scenarios[0], read.scenarios[-1]
    # 8 targets x capacity 1 / 10 ms = 800 requests/s flat out; 70 % of that
    assert first.load.rate == pytest.approx(560.0)
    assert (first.load.duration_s, budget.load.duration_s) == (4.0, 2.0)
    assert budget.load.rate == pytest.approx(560.0)  # kept from the defaults
    assert (first.trials, first.seed) == (3, 7)
    assert read.rank_by == ("error_rate", "p99")


def test_names_fill_their_placeholders_and_faults_given_name_the_fleet():
    read = suite()
    assert read.scenarios[0].name == "strategies: least_connections, fail_fast"
    assert [s.name for s in read.scenarios[-2:]] == ["budget 0.1", "budget 0.5"]
    first = read.scenarios[0]
    assert [(f.kind, f.target, f.at_s) for f in first.profile.faults] == [("slow", "b3", 1.0)]
    assert first.profile.name.endswith("~slow(b3@1s+2s,factor=10)")
    assert read.scenarios[-1].profile.faults == ()


def test_a_matrix_value_may_set_several_things_together():
    text = """
[[scenario]]
name = "{way}"
fleet = "uniform"
matrix.way = [
    { label = "plain", strategy = "p2c" },
    { label = "tuned", strategy = "adaptive", strategy_options.interval_s = 0.05, max_pending = 9 },
]
"""
    plain, tuned = suite(text).scenarios
    assert (plain.name, plain.strategy, plain.load.rate) == ("plain", "p2c", 1000.0)
    assert (tuned.name, tuned.strategy, dict(tuned.strategy_options)) == (
        "tuned", "adaptive", {"interval_s": 0.05}
    )  # fmt: skip
    assert dict(tuned.settings) == {"max_pending": 9}


BAD = [
    # the suite text, where the error points, what it says
    ("colour = 1\n[[scenario]]\nfleet='uniform'", "s.toml: colour", "unknown key"),
    ("name = 'x'", "s.toml: scenario", "at least one [[scenario]]"),
    ("[[scenario]]\nname = 'a'", "s.toml: scenario[0].fleet", "missing"),
    ("[[scenario]]\nfleet = 'nowhere'", "--targets", "no profile 'nowhere'"),
    ("[[scenario]]\nfleet = 'uniform'\nspeed = 3", "s.toml: scenario[0].speed", "unknown key"),
    (
        "[[scenario]]\nfleet = 'uniform'\nfailover.retry.budget_ratio = -1\n"
        "failover.modes = ['retry']",
        "s.toml: scenario[0].failover.retry.budget_ratio",
        "must be >= 0.0",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nfailover.retry.tries = 2\nfailover.modes = ['retry']",
        "s.toml: scenario[0].failover.retry.tries",
        "no setting 'tries'",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nfailover = 'retry+pray'",
        "s.toml: scenario[0].failover",
        "unknown failover mode 'pray'",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nstrategy = 'p3c'",
        "s.toml: scenario[0].strategy",
        "unknown strategy",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.strategy = 'p2c'",
        "s.toml: scenario[0].matrix.strategy",
        "non-empty array",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.speed = [1, 2]",
        "s.toml: scenario[0].matrix.speed",
        "a matrix key is",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.strategy = ['p2c', 'p3c']",
        "s.toml: scenario[0].matrix.strategy[1]",
        "unknown strategy 'p3c'",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nload = { rate = 10, utilization = 0.5 }",
        "s.toml: scenario[0].load.utilization",
        "rate or utilization",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nload = { rate = -1 }",
        "s.toml: scenario[0].load.rate",
        "> 0",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nload = { burst = 3 }",
        "s.toml: scenario[0].load.burst",
        "unknown key",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nfaults = [{ at_s = 1, target = 't9', kind = 'hang' }]",
        "s.toml: scenario[0].faults[0].target",
        "no target with id 't9'",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\n[[scenario]]\nfleet = 'uniform'",
        "s.toml",
        "are the same experiment",
    ),
    ("trials = 0\n[[scenario]]\nfleet = 'uniform'", "s.toml: trials", ">= 1"),
    (
        "[[scenario]]\nfleet = { synthetic = { backends = 0 } }",
        "s.toml: scenario[0].fleet.synthetic.backends",
        ">= 1",
    ),
    (
        "[[scenario]]\nname = 'a'\nfleet = 'uniform'\n[published]\nfigure = []",
        "s.toml: published.source",
        "missing",
    ),
    (
        "[[scenario]]\nname = 'a'\nfleet = 'uniform'\n[published]\nsource = 'x'",
        "s.toml: published.figure",
        "at least one",
    ),
    (
        "[[scenario]]\nname = 'a'\nfleet = 'uniform'\n[published]\nsource = 'x'\n"
        "[[published.figure]]\nscenario = 'b'\nmetric = 'p99'\nvalue = 1",
        "s.toml: published.figure[0].scenario",
        "no scenario 'b'",
    ),
    (
        "[[scenario]]\nname = 'a'\nfleet = 'uniform'\n[published]\nsource = 'x'\n"
        "[[published.figure]]\nscenario = 'a'\nmetric = 'p99'",
        "s.toml: published.figure[0].value",
        "missing",
    ),
    (
        "[[scenario]]\nname = 'a'\nfleet = 'uniform'\n[published]\nsource = 'x'\n"
        "[[published.figure]]\nscenario = 'a'\nversus = 'c'\nmetric = 'p99'\nvalue = 1",
        "s.toml: published.figure[0].versus",
        "no scenario 'c'",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nfaults = [{ share = 1.5, at_s = 1, kind = 'hang' }]",
        "s.toml: scenario[0].faults[0].share",
        "<= 1.0",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\n"
        "faults = [{ share = 0.5, target = 't1', at_s = 1, kind = 'hang' }]",
        "s.toml: scenario[0].faults[0].share",
        "target or share, not both",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.n = [{ 'fleet.synthetic.backends' = 3 }]",
        "s.toml: scenario[0].matrix.n[0].fleet.synthetic.backends",
        "needs a synthetic fleet",
    ),
    (
        "[[scenario]]\nfleet = { synthetic = { backends = 4 } }\n"
        "matrix.n = [{ label = 'none', 'fleet.synthetic.backends' = 0 }]",
        "s.toml: scenario[0].matrix.n[0].fleet.synthetic.backends",
        ">= 1",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.strategy = ['p2c']\n[rank]\nwithin = 'load'",
        "s.toml: rank.within",
        "no matrix axis 'load' (axes: strategy)",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.strategy = ['p2c']\nmatrix.failover = ['retry']\n"
        "[map]\ncontenders = 'strategy'\nrows = []\ncolumns = []",
        "s.toml: map",
        "matrix axes failover are in no place",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.strategy = ['p2c']\n"
        "[map]\ncontenders = 'strategy'\nrows = 'strategy'\ncolumns = []",
        "s.toml: map",
        "'strategy' is named twice",
    ),
    (
        "[[scenario]]\nfleet = 'uniform'\nmatrix.strategy = ['p2c']\n[map]\nrows = []",
        "s.toml: map.contenders",
        "missing",
    ),
]  # fmt: skip


SWEEP = """
[defaults.fleet.synthetic]
backends = 10

[[scenario]]
name = "{strategy} | {fault}, {backends} backends"
load = { utilization = 0.5, duration_s = 2 }
matrix.strategy = ["p2c", "round_robin"]
matrix.backends = [
    { label = "10", "fleet.synthetic.backends" = 10 },
    { label = "100", "fleet.synthetic.backends" = 100, "fleet.synthetic.slow_fraction" = 0.1 },
]
matrix.fault = [
    { label = "crash", faults = [{ share = 0.1, at_s = 1, duration_s = 1, kind = "crash" }] },
    { label = "none", faults = [] },
]

[rank]
by = "p99"
within = ["backends", "fault"]

[map]
contenders = "strategy"
rows = "fault"
columns = "backends"
"""


def test_a_matrix_sets_synthetic_fields_and_faults_hit_a_share_of_any_fleet():
    read = suite(SWEEP)
    by_name = {s.name: s for s in read.scenarios}
    small = by_name["p2c | crash, 10 backends"]
    big = by_name["p2c | crash, 100 backends"]
    assert [f.target for f in small.profile.faults] == ["b0"]  # 10 % of 10: one
    assert [f.target for f in big.profile.faults] == [f"b{i}0" for i in range(10)]
    assert len(big.profile.targets) == 100
    slow = [t.id for t in big.profile.targets if t.latency != big.profile.targets[0].latency]
    assert len(slow) == 10 and not set(slow) & {f.target for f in big.profile.faults}
    assert "crash(0.1-of-fleet@1s+1s)" in big.profile.name  # the key says the share, not 10 ids
    assert by_name["p2c | none, 100 backends"].profile.faults == ()
    assert read.rank_within == ("backends", "fault")
    assert read.winner_map is not None
    assert (read.winner_map.rows, read.winner_map.columns) == (("fault",), ("backends",))


def test_an_antagonist_gives_every_backend_its_own_seeded_fault():
    read = suite(
        "[[scenario]]\nfleet = { synthetic = { backends = 3, "
        "antagonist = { share_max = 0.4, dwell_s = 0.5, seed = 7 } } }"
    )
    faults = read.scenarios[0].profile.faults
    assert [(f.target, f.kind, dict(f.params)["seed"]) for f in faults] == [
        ("b0", "antagonist", 7), ("b1", "antagonist", 8), ("b2", "antagonist", 9)
    ]  # fmt: skip
    assert all(dict(f.params)["share_max"] == 0.4 and f.duration_s is None for f in faults)


@pytest.mark.parametrize(("text", "where", "words"), BAD)
def test_bad_input_is_one_error_naming_the_file_and_key(text, where, words):
    with pytest.raises(ConfigError) as caught:
        suite(text)
    assert caught.value.where == where, str(caught.value)
    assert words in caught.value.message


@pytest.mark.parametrize("name", sorted(shipped_suites()))
def test_every_shipped_suite_reads(name):
    read = load_suite(name)
    assert read.scenarios and read.description
    assert len({s.key for s in read.scenarios}) == len(read.scenarios)
