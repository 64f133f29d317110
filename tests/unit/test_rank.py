"""Ranking an experiment: order, groups of ties, effect sizes, the sentence, refusals."""

from __future__ import annotations

import pytest

from lbbench.results.rank import Row, experiments, holm, rank, smallest_p, trials_needed


def row(name: str, p99: list[float], errors: list[float] | None = None) -> Row:
    samples = {"p99_ms": p99, "error_rate": errors if errors is not None else [0.0] * len(p99)}
    return Row(key=name, name=name, cell={}, valid=True, samples=samples)


FAST = [10.0, 10.5, 11.0, 10.2, 10.8, 10.1, 10.9, 10.4]
MIDDLE = [20.0, 21.0, 19.5, 20.5, 20.2, 19.8, 20.9, 20.1]
MIDDLE_TOO = [20.1, 20.8, 19.7, 20.4, 20.3, 19.9, 21.1, 20.0]
SLOW = [40.0, 41.0, 39.0, 40.5, 40.2, 39.8, 40.9, 40.1]


def test_the_best_wins_ties_are_grouped_and_the_sentence_says_so():
    ranking = rank(
        [row("slow", SLOW), row("mid", MIDDLE), row("fast", FAST), row("mid2", MIDDLE_TOO)], ["p99"]
    )
    assert not ranking.refused
    assert ranking.rows[0].name == "fast"
    assert {r.name for r in ranking.rows[1:3]} == {"mid", "mid2"}
    assert ranking.rows[-1].name == "slow"
    groups = [r.group for r in ranking.rows]
    assert groups[0] == (1,) and groups[1] == groups[2] == (2,) and groups[3] == (3,)
    effect = ranking.rows[-1].effects["p99"]
    assert effect.difference == pytest.approx(40.15 - 10.45)
    assert effect.cliffs_delta == 1.0  # every slow trial is worse than every fast one
    assert effect.p_adjusted < 0.05
    assert effect.interval[0] > 0
    assert ranking.answer.startswith(
        "fast has the lowest p99 (10.45 ms), 48% below the next, mid (20.15 ms; p = "
    )
    assert "Holm-adjusted" in ranking.answer


def test_a_tie_on_the_first_metric_is_decided_by_the_second():
    clean = [0.0] * 8
    ranking = rank(
        [row("a", MIDDLE, clean), row("b", FAST, [0.01] * 8), row("c", FAST, clean)],
        ["error_rate", "p99"],
    )
    assert [r.name for r in ranking.rows] == ["c", "a", "b"]
    assert ranking.rows[0].group == (1, 1) and ranking.rows[1].group == (1, 2)
    assert ranking.answer.startswith(
        "c and a have the lowest error_rate (0 for c), not significantly different from each "
        "other, 0.01 points below the next, b (0.01; p = "
    )
    assert "; of those, c has the lowest p99 (10.45 ms), 48% below the next, a" in ranking.answer


def test_when_nothing_tells_them_apart_it_says_so():
    same = rank([row("a", FAST), row("b", FAST)], ["error_rate", "p99"])
    assert same.answer == (
        "a and b do not differ significantly on error_rate or p99; a has the best median."
    )


def test_too_few_trials_are_refused_with_the_number_that_would_do():
    ranking = rank([row("a", FAST[:3]), row("b", SLOW[:3])], ["p99"])
    assert "too few trials" in ranking.refused and "--trials 4" in ranking.refused
    twelve = rank([row(str(i), FAST[:6]) for i in range(12)], ["p99"])
    assert f"--trials {trials_needed(12)}" in twelve.refused and trials_needed(12) == 7


@pytest.mark.parametrize(("n", "m", "p"), [(3, 3, 0.1), (4, 4, 2 / 70), (8, 8, 2 / 12870)])
def test_the_smallest_mann_whitney_p(n, m, p):
    assert smallest_p(n, m) == pytest.approx(p)


def test_holm_adjusts_step_down_and_stays_monotone():
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx(
        {"a": 0.03, "b": 0.06, "c": 0.06}
    )


def scenario(key: str, group: str, simulated: bool, p99: list[float]) -> dict:
    return {
        "key": key, "name": key, "group": group, "cell": {}, "valid": True,
        "simulated": simulated, "samples": {"p99_ms": p99},
    }  # fmt: skip


def test_experiments_pool_trials_by_key_and_keep_live_and_simulated_apart():
    first = {"scenarios": [scenario("u/p2c/x/load", "g", False, [1.0, 2.0])]}
    second = {
        "scenarios": [
            scenario("u/p2c/x/load", "g", False, [3.0]),
            scenario("u/p2c/x/load", "g", True, [9.0]),
            scenario("u/rr/x/load", "", False, [4.0]),
        ]
    }
    found = experiments([("a", first), ("b", second)])
    assert set(found) == {"g", "g (simulated)", "u, load"}
    assert found["g"][0].samples["p99_ms"] == [1.0, 2.0, 3.0]
