"""The HTML lbbench writes (the report, the winner map) shows what result files say as text.

Result files are shared between people, so every name in them is untrusted:
a scenario, backend or contender named like markup must come out escaped.
(The balancer page builds its DOM from text instead: tests/browser.)
"""

from __future__ import annotations

import copy
import glob

import pytest

from lbbench.results.files import read_result
from lbbench.results.report import render_report
from lbbench.results.winner_map import build_map, render_map, spec_of
from lbbench.scenario.suite_file import MapSpec
from tests.unit.test_winner_map import scenario

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def assert_escaped(page: str) -> None:
    assert "<img src=x" not in page and "<script>" not in page
    assert "&lt;img src=x" in page or "&lt;script&gt;" in page


@pytest.fixture
def baseline() -> dict:
    return read_result(sorted(glob.glob("results/baseline/*.json"))[0])


def test_the_report_escapes_every_name_a_result_file_gives(baseline):
    result = copy.deepcopy(baseline)
    result["run_id"] = HOSTILE
    for scenario_ in result["scenarios"]:
        scenario_["key"] = scenario_["name"] = HOSTILE
        scenario_["problems"] = [HOSTILE]
        scenario_["valid"] = False
    assert_escaped(render_report([(HOSTILE, result)], images=[]))


def test_the_winner_map_escapes_contenders_and_conditions():
    spec = MapSpec(("strategy",), (), ("load",), "p99", 0.001)
    result = {
        "label": HOSTILE,
        "run_id": HOSTILE,
        "config": {"map": {**spec.__dict__}},
        "scenarios": [
            scenario(HOSTILE, HOSTILE, [10, 11, 10, 12]),
            scenario("rr", HOSTILE, [20, 22, 21, 25]),
        ],
    }
    assert_escaped(render_map(result, build_map(result, spec_of(result, "r.json"))))
