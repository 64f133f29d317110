"""The winner map, RIF quantiles, ratio figures, ranking within an axis (made-up results)."""

from __future__ import annotations

import pytest

from lbbench.results.metrics import metric
from lbbench.results.published import published_rows
from lbbench.results.rank import experiments
from lbbench.results.trial import requests_in_flight
from lbbench.results.winner_map import build_map, render_map, spec_of
from lbbench.scenario.suite_file import MapSpec, Published, PublishedFigure


def scenario(strategy: str, load: str, p99s: list[float], error_rate: float = 0.0, rif=None):
    trials = [
        {"latency_ms": {"corrected": {"p99": p}}, "rif": rif or {}, "error_rate": error_rate}
        for p in p99s
    ]
    return {
        "key": f"{strategy}/{load}",
        "name": f"{strategy} at load {load}",
        "group": "{strategy} at load {load}",
        "cell": {"strategy": strategy, "load": load},
        "valid": True,
        "trials": trials,
        "samples": {"p99_ms": p99s},
        "summary": {
            "error_rate": error_rate,
            "latency_ms": {"corrected": {"p99": sorted(p99s)[len(p99s) // 2]}},
            "rif": rif or {},
        },
    }


SPEC = MapSpec(("strategy",), (), ("load",), "p99", 0.001)

# (each contender's p99 per trial and error rate at one load, the winner, its margin, clear?)
CELLS = [
    (
        {"p2c": ([10, 11, 10, 12], 0), "rr": ([20, 22, 21, 25], 0)},
        "p2c", "2.05x", True,  # medians 10.5 and 21.5
    ),
    (
        {"p2c": ([10, 11, 10, 12], 0), "rr": ([11, 10, 12, 10], 0)},
        "p2c", "1.00x", False,  # the trials cannot tell them apart
    ),
    (
        {"fast_fail": ([1, 1, 1, 1], 0.2), "p2c": ([10, 11, 10, 12], 0)},
        "p2c", "the only one without extra errors", True,  # failing fast is not being fast
    ),
    (
        {"a": ([10, 10, 10, 10], 0.0005), "b": ([30, 30, 30, 30], 0)},
        "a", "3.00x", True,  # 0.05 points more errors: within the tolerance
    ),
]  # fmt: skip


@pytest.mark.parametrize(("contenders", "winner", "margin", "clear"), CELLS)
def test_each_cell_has_a_winner_a_margin_and_a_verdict(contenders, winner, margin, clear):
    result = {
        "scenarios": [
            scenario(name, "0.5", p99s, errors) for name, (p99s, errors) in contenders.items()
        ]
    }
    built = build_map(result, SPEC)
    [cell] = built.cells.values()
    assert cell.winner.contender == winner
    assert built.margin(cell) == margin
    assert cell.clear == clear


def test_the_html_map_lays_out_every_cell_and_the_table_behind_it():
    result = {
        "label": "sweep",
        "run_id": "r1",
        "config": {"map": {**SPEC.__dict__}},
        "scenarios": [
            scenario("p2c", "0.3", [10, 11, 10, 12]),
            scenario("rr", "0.3", [20, 22, 21, 25]),
            scenario("p2c", "0.9", [30, 31, 30, 32]),
            scenario("rr", "0.9", [90, 92, 91, 95]),
        ],
    }
    page = render_map(result, build_map(result, spec_of(result, "r.json")))
    assert page.count("<td style=") == 2  # two cells, both won clearly by p2c
    assert "p2c: 2 clear wins" in page
    assert page.count("<tr><td>") == 4  # the table behind: every contender of every cell


def test_a_result_without_a_map_says_so():
    with pytest.raises(Exception, match="has no winner map"):
        spec_of({"config": {}}, "r.json")


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, {"p50": None, "p99": None, "max": None}),
        ({"1": 50, "2": 49, "9": 1}, {"p50": 1, "p99": 2, "max": 9}),
        ({"3": 1000}, {"p50": 3, "p99": 3, "max": 3}),
        ({"1": 98, "5": 2}, {"p50": 1, "p99": 5, "max": 5}),
    ],
)
def test_requests_in_flight_quantiles_from_counts(counts, expected):
    summary = requests_in_flight(counts)
    assert {k: summary[k] for k in expected} == expected


def test_the_rif_metric_is_absent_from_older_results_not_zero():
    chosen = metric("rif_p99")
    assert chosen.trial_values({}) == []
    assert chosen.summary_value({}) is None
    assert chosen.trial_values({"rif": {"p99": 4}}) == [4]


def test_a_figure_versus_another_scenario_is_a_ratio_of_ours_too():
    result = {
        "scenarios": [
            {"name": "probing", "summary": {"latency_ms": {"corrected": {"p99": 20.0}}}},
            {"name": "wrr", "summary": {"latency_ms": {"corrected": {"p99": 80.0}}}},
        ]
    }
    figure = PublishedFigure("probing", "p99", 0.5, "2x lower", versus="wrr")
    [row] = published_rows(result, Published("paper", (figure,)))
    assert (row["kind"], row["ours"], row["difference"]) == ("ratio", 0.25, 0.5)


def test_ranking_within_an_axis_makes_one_experiment_per_value():
    data = {
        "scenarios": [
            scenario(s, load, [1, 2, 3, 4]) for s in ("p2c", "rr") for load in ("0.3", "0.9")
        ]
    }
    assert sorted(experiments([("x", data)])) == ["<strategy> at load <load>"]
    split = experiments([("x", data)], within=["load"])
    assert sorted(split) == ["<strategy> at load 0.3", "<strategy> at load 0.9"]
    assert all(len(rows) == 2 for rows in split.values())
