"""The Python API: the same suites, rigs, files and rankings as the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

import lbbench.api as lb
from lbbench.errors import ConfigError, LbbenchError

SUITE = Path(__file__).parents[2] / "docs" / "examples" / "my-suite.toml"


def test_run_simulated_writes_a_result_that_reads_back_the_same(tmp_path):
    result = lb.run(SUITE, simulated=True, trials=2, only=["p2c", "peak_ewma"], out=tmp_path)
    assert [s.name for s in result.scenarios] == ["p2c", "peak_ewma"]
    assert result.path is not None and result.path.parent == tmp_path
    again = lb.read(result.path)
    assert again.data == result.data
    p2c = again.scenario("p2c")
    assert p2c.value("p99") == result.scenario("p2c").value("p99") > 0
    assert len(p2c.samples("p99")) == 2 and p2c.requests["lost"] == 0
    assert set(result.figures()["p2c"]) == {"throughput", "p50", "p99"}
    with pytest.raises(LbbenchError, match="scenarios: p2c, peak_ewma") as raised:
        result.scenario("p3c")  # one line for the CLI, a KeyError for code that catches one
    assert isinstance(raised.value, KeyError)
    assert str(raised.value).startswith("scenario: no scenario 'p3c'")
    with pytest.raises(LbbenchError, match="unknown metric 'p98'"):
        result.scenario("p2c").value("p98")


def test_settings_by_path_and_refusals_as_on_the_command_line():
    result = lb.run(SUITE, simulated=True, trials=1, only=["p2c"], settings={"deadline_s": 0.5})
    assert result.scenarios[0].entry["router_settings"]["deadline_s"] == 0.5
    (ranking,) = result.rank()
    assert ranking.refused == "one scenario: nothing to rank"
    with pytest.raises(ConfigError, match="no setting 'tries'"):
        lb.run(SUITE, simulated=True, settings={"failover.retry.tries": 2})
    with pytest.raises(ConfigError, match="--only"):
        lb.run(SUITE, simulated=True, only=["nothing like it"])


def test_the_pytest_fixture_keeps_results_and_feeds_pytest_benchmark(lbbench, benchmark, request):
    result = benchmark.pedantic(
        lbbench.run, args=(SUITE,), kwargs={"trials": 1, "only": ["p2c"]}, rounds=1
    )
    lbbench.record(benchmark, result)
    assert benchmark.extra_info["lbbench"]["p2c"]["p99"] == result.scenario("p2c").value("p99")
    assert ("lbbench", result.figures()) in request.node.user_properties
    assert result.path is not None and result.path.parent == lbbench.out
