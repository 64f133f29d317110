"""Service-time distributions: each quantile function agrees with its stated mean and median,
and a bad latency table is one error naming the key."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from lbbench.core.latency import parse_latency
from lbbench.errors import ConfigError

GRID = 200_000  # quantiles (i + 0.5) / GRID: a deterministic integral over [0, 1)

# (latency table, its median in ms)
TABLES = [
    ({"dist": "fixed", "ms": 2.0}, 2.0),
    ({"dist": "uniform", "min_ms": 1.0, "max_ms": 3.0}, 2.0),
    ({"dist": "exponential", "mean_ms": 2.0}, 2.0 * math.log(2)),
    ({"dist": "lognormal", "median_ms": 5.0, "sigma": 0.5}, 5.0),
    ({"dist": "bimodal", "fast_ms": 1.0, "slow_ms": 100.0, "slow_fraction": 0.1}, 1.0),
    ({"dist": "pareto", "scale_ms": 1.0, "alpha": 3.0}, 2 ** (1 / 3)),
    (
        {"dist": "lognormal_stalls", "median_ms": 3.6, "sigma": 0.5, "stall_ms": 1800,
         "stall_fraction": 0.002},
        # the body at the quantile the median falls on once 0.2 % stall
        3.6 * math.exp(0.5 * NormalDist().inv_cdf((0.5 - 0.002) / (1 - 0.002))),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("table", "median_ms"), TABLES, ids=[t["dist"] for t, _ in TABLES])
def test_the_quantile_function_has_the_stated_mean_and_median(table, median_ms):
    latency = parse_latency(table, "latency")
    quantile = latency.quantile()
    draws = sorted(quantile((i + 0.5) / GRID) for i in range(GRID))
    assert sum(draws) / GRID == pytest.approx(latency.mean_s(), rel=0.01)
    assert draws[GRID // 2] * 1e3 == pytest.approx(median_ms, rel=0.01)


def test_stalls_take_exactly_their_share_of_the_quantiles():
    table = {"dist": "lognormal_stalls", "median_ms": 3.6, "sigma": 0.5, "stall_ms": 1800,
             "stall_fraction": 0.002}  # fmt: skip
    quantile = parse_latency(table, "latency").quantile()
    stalled = sum(quantile((i + 0.5) / GRID) == 1.8 for i in range(GRID))
    assert stalled == 0.002 * GRID


BAD = [
    ({"dist": "lognormal_stalls", "median_ms": 3, "sigma": 0.5, "stall_ms": 1000,
      "stall_fraction": 1.0}, "latency.stall_fraction", "must be < 1"),
    ({"dist": "lognormal_stalls", "median_ms": 3, "sigma": 0.5, "stall_ms": 1000},
     "latency.stall_fraction", "missing"),
    ({"dist": "lognormal_stalls", "median_ms": 3, "sigma": 0.5, "stall_ms": 0,
      "stall_fraction": 0.1}, "latency.stall_ms", "must be > 0"),
    ({"dist": "gamma", "k": 2}, "latency.dist", "unknown distribution 'gamma'"),
]  # fmt: skip


@pytest.mark.parametrize(("table", "where", "words"), BAD)
def test_a_bad_latency_table_is_one_error_naming_the_key(table, where, words):
    with pytest.raises(ConfigError) as caught:
        parse_latency(table, "latency")
    assert caught.value.where == where
    assert words in caught.value.message
