"""The simulator against closed forms: M/M/1, M/M/c (Erlang C), balls into bins, the
supermarket model (the power of d choices), and Mitzenmacher's stale information model
(solved numerically, ``lbbench.sim.stale_theory``).

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

from lbbench.sim.stale_theory import stale_time
from lbbench.sim.validate import (
    balls_into_bins,
    batch_means,
    erlang_c,
    max_load,
    mm1,
    mmc,
    p99,
    stale_choices,
    stale_herding,
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


@pytest.mark.parametrize(
    ("load", "period", "choices", "expected", "tolerance"),
    [
        # one choice is random: stale or not, every server is an M/M/1 queue
        (0.5, 1.0, 1, 1 / (1 - 0.5), 1e-6),
        (0.7, 2.0, 1, 1 / (1 - 0.7), 1e-6),
        # a board updated often is almost the supermarket model (fresh information)
        (0.9, 0.1, 2, supermarket_time(2, 0.9), 0.02),
        (0.5, 0.2, 2, supermarket_time(2, 0.5), 0.04),
    ],
)
def test_the_stale_information_model_meets_its_limits(load, period, choices, expected, tolerance):
    solved = stale_time(load, period, choices, longest=120)
    assert math.isclose(solved, expected, rel_tol=tolerance), solved


def test_old_information_costs_least_loaded_more_than_two_choices():
    # Mitzenmacher 2000: the older the board, the longer the time; least loaded herds
    two = [stale_time(0.9, period, 2) for period in (1.0, 2.0)]
    least = [stale_time(0.9, period, None) for period in (1.0, 2.0)]
    assert two[0] < two[1] and least[0] < least[1]
    assert least[1] / least[0] > 1.3 * (two[1] / two[0])  # 1.52x against 1.10x
    assert least[1] > 1.5 * two[1]  # 5.69 against 3.22 service times


@pytest.mark.parametrize(("choices", "period"), [(2, 1.0), (3, 1.0)])
def test_p2c_on_a_stale_board_matches_the_periodic_update_model(choices, period):
    check = stale_choices(choices, 0.9, period, REQUESTS)
    assert check.passed, (check.name, check.expected, check.measured, check.rule)


def test_least_connections_on_a_stale_board_herds():
    check = stale_herding(0.9, (1.0, 2.0), 60_000)
    assert check.passed, (check.name, check.expected, check.measured, check.rule)
