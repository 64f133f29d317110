"""Your own CI, asserting on lbbench's answer (the ``lbbench`` fixture comes with lbbench).

Run it like any test: ``pytest docs/examples``; ``--lbbench-out DIR`` keeps
the result sets, ``--lbbench-live`` runs the suite on the live rig instead
of the simulator.
"""

from pathlib import Path

SUITE = Path(__file__).with_name("my-suite.toml")


def test_a_latency_aware_strategy_holds_the_tail(lbbench):
    result = lbbench.run(SUITE, simulated=True)
    assert result.valid
    (ranking,) = result.rank(by=["p99"])
    assert not ranking.refused, ranking.refused
    assert ranking.best.name == "peak_ewma", ranking.answer
    assert ranking.rows[-1].name == "round_robin"
    # round robin keeps sending a quarter of the requests to the slow target
    assert result.scenario("round_robin").value("p99") > 2 * result.scenario("peak_ewma").value(
        "p99"
    )
