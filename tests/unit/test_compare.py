"""Comparison verdicts, words and thresholds on hand-made samples."""

from __future__ import annotations

import pytest

from lbbench.errors import ConfigError
from lbbench.results.compare import (
    compare,
    gate,
    in_words,
    parse_thresholds,
    significance,
)
from lbbench.results.metrics import METRICS

SIGNIFICANCE = [
    # base samples, other samples, significant, method
    ([5.0], [50.0], False, "1 sample: not testable"),
    ([5.0, 5.1, 4.9, 5.2], [5.0, 5.1, 4.9, 5.2], False, "mann-whitney"),
    ([5.0, 5.1, 4.9, 5.2], [10.0, 10.4, 9.8, 10.1], True, "mann-whitney"),
    ([5.0, 5.1, 4.9, 5.2], [5.05, 5.0, 5.15, 4.95], False, "mann-whitney"),
    ([5.0, 5.1, 4.9], [10.0, 10.4, 9.8], True, "bootstrap"),
    ([5.0, 6.0, 4.0], [5.5, 4.5, 6.5], False, "bootstrap"),
    ([3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0], False, "mann-whitney"),
]


@pytest.mark.parametrize(("a", "b", "significant", "method"), SIGNIFICANCE)
def test_significance(a, b, significant, method):
    verdict = significance(a, b)
    assert (verdict.significant, verdict.method) == (significant, method)


WORDS = [
    ("p99", 10.0, 11.8, "1.18x slower"),
    ("p99", 23.0, 10.0, "2.30x faster"),
    ("throughput", 100.0, 105.0, "1.05x higher"),
    ("jain", 0.98, 0.95, "-0.030"),
    ("p50", 4.0, 4.0, "same"),
]


@pytest.mark.parametrize(("metric", "base", "other", "words"), WORDS)
def test_ratios_in_words(metric, base, other, words):
    assert in_words(METRICS[metric], base, other) == words


def scenario(p99: list[float], throughput: list[float]) -> dict:
    return {
        "k": {
            "name": "s",
            "valid": True,
            "samples": {"p99_ms": p99, "throughput_rps": throughput},
        }
    }


def test_a_set_against_itself_has_nothing_significant():
    base = scenario([10.0, 10.5, 9.8, 10.2], [500.0, 498.0, 501.0, 499.0])
    rows = compare(base, base)
    assert rows and not any(r["significant"] for r in rows)
    assert gate(rows, parse_thresholds("p99:+10%,throughput:-5%")) == []


def test_the_gate_fails_on_a_significant_regression_beyond_the_threshold_only():
    base = scenario([10.0, 10.5, 9.8, 10.2], [500.0, 498.0, 501.0, 499.0])
    slower = scenario([21.0, 20.5, 19.8, 22.0], [497.0, 499.0, 498.0, 500.0])
    failures = gate(compare(base, slower), parse_thresholds("p99:+10%,throughput:-5%"))
    assert [f["metric"] for f in failures] == ["p99"]
    # beyond no threshold: a 2x slowdown passes a +150 % limit, or +12 ms
    assert gate(compare(base, slower), parse_thresholds("p99:+150%")) == []
    assert gate(compare(base, slower), parse_thresholds("p99:+12")) == []
    assert len(gate(compare(base, slower), parse_thresholds("p99:+5"))) == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("latency:+10%", "metrics: throughput"),
        ("p99:10%", "signed, non-zero"),
        ("p99:-10%", "a regression of p99 is +"),
        ("throughput:+5%", "a regression of throughput is -"),
        ("p99:+ten%", "is not a number"),
        ("", "no thresholds"),
    ],
)
def test_bad_thresholds_are_named(text, words):
    with pytest.raises(ConfigError) as caught:
        parse_thresholds(text)
    assert words in str(caught.value) and caught.value.where == "--fail-on"
