"""The simulator against closed forms: M/M/1, M/M/c (Erlang C), balls into bins, the
supermarket model (the power of d choices).

Every run is seeded, so these are exact regressions of the engine. A check
passes when theory lies inside the 99 % batch-means interval of what the
simulator measured; the figures the README quotes come from ``lbbench sim
--validate``.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from lbbench.sim.validate import (
    balls_into_bins,
    batch_means,
    erlang_c,
    max_load,
    mm1,
    mmc,
    p99,
    supermarket,
    supermarket_time,
)

REQUESTS = 150_000


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_mean_latency_is_s_over_one_minus_rho(rho):
    mean, tail = mm1(rho, REQUESTS)
    assert mean.passed, (mean.expected, mean.measured, mean.rule)
    assert tail.passed, (tail.expected, tail.measured, tail.rule)
    assert abs(mean.error) < 0.05


@pytest.mark.parametrize("servers, rho", [(4, 0.8), (16, 0.9)])
def test_mmc_mean_latency_matches_erlang_c(servers, rho):
    check = mmc(servers, rho, REQUESTS)
    assert check.passed, (check.name, check.expected, check.measured)


@pytest.mark.parametrize(
    "servers, offered, waits",
    [
        (1, 0.5, 0.5),  # M/M/1: P(wait) = rho
        (2, 1.0, 1 / 3),  # textbook value
        (4, 3.2, 0.5964),
    ],
)
def test_erlang_c_formula(servers, offered, waits):
    assert math.isclose(erlang_c(servers, offered), waits, rel_tol=1e-3)


@pytest.mark.parametrize(
    "choices, load, expected",
    [
        # T_d(lambda) = sum_i lambda^((d^i - d)/(d - 1)), in service times
        (2, 0.9, 1 + 0.9**2 + 0.9**6 + 0.9**14 + 0.9**30 + 0.9**62 + 0.9**126),
        (3, 0.9, 1 + 0.9**3 + 0.9**12 + 0.9**39 + 0.9**120),
        (2, 0.5, 1 + 0.5**2 + 0.5**6 + 0.5**14 + 0.5**30),
    ],
)
def test_supermarket_formula(choices, load, expected):
    assert math.isclose(supermarket_time(choices, load), expected, rel_tol=1e-6)


@pytest.mark.parametrize("choices, load", [(2, 0.9), (3, 0.9)])  # (all four: sim --validate)
def test_p2c_with_d_choices_matches_the_supermarket_model(choices, load):
    check = supermarket(choices, load, REQUESTS)
    assert check.passed, (check.name, check.expected, check.measured, check.rule)


def test_p2c_max_load_is_far_below_random_at_1000_bins():
    random_check, p2c_check = balls_into_bins(1_000)
    assert random_check.passed and p2c_check.passed
    assert p2c_check.measured < random_check.measured


@pytest.mark.parametrize(
    "strategy, bins, most",
    [
        ("round_robin", 100, 1),  # exactly one each
        ("least_connections", 100, 1),
    ],
)
def test_balanced_strategies_put_one_ball_in_each_bin(strategy, bins, most):
    assert max_load(strategy, bins, seed=1) == most


def _draws(seed: int, draw: str, *args: float, n: int) -> list[float]:
    rng = random.Random(seed)
    return [getattr(rng, draw)(*args) for _ in range(n)]


@pytest.mark.parametrize(
    "what, values, statistic, truth, inside",
    [
        # independent draws: the interval holds the true value
        ("mean of N(10, 1)", _draws(1, "gauss", 10, 1, n=20_000),
         statistics.fmean, 10.0, True),
        ("p99 of Exp(1)", _draws(2, "expovariate", 1, n=40_000),
         p99, math.log(100), True),
        # a bias of 2 % on draws whose mean is known to 0.2 %: caught
        ("mean of N(10, 1) read 2 % high", _draws(3, "gauss", 10.2, 1, n=20_000),
         statistics.fmean, 10.0, False),
    ],
)  # fmt: skip
def test_batch_means_interval_holds_truth_and_catches_bias(what, values, statistic, truth, inside):
    estimate, half = batch_means(values, statistic)
    assert half > 0
    assert (abs(estimate - truth) <= half) is inside, (what, estimate, half)


def test_batch_means_refuses_too_few_values():
    with pytest.raises(ValueError, match="too few"):
        batch_means([1.0] * 500, statistics.fmean)
