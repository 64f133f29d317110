"""p2c's ``choice_count`` (the power of d choices): one choice is uniform random, as many
choices as backends is least connections, two is what p2c always was, and bad counts are
one line naming the key."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lbbench.core.backends import Backend, BackendState
from lbbench.core.strategies import Pool, make_strategy
from lbbench.errors import ConfigError
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario
from tests.unit.test_strategies import request, states


def loaded(in_flight: list[int], weights: list[int] | None = None) -> Pool:
    backends = states(weights or [1] * len(in_flight))
    for backend, count in zip(backends, in_flight, strict=True):
        backend.in_flight = backend.load = count
    return Pool(backends)


def sequence(name: str, pool: Pool, count: int, seed: int, **options) -> list[str]:
    strategy = make_strategy(name, random.Random(seed), options)
    return [strategy.pick(pool, request(), 0.0).id for _ in range(count)]


# (in flight per backend, weights): a unique least loaded per unit of weight
FLEETS = [
    ([3, 1, 4, 1, 5], [1, 1, 1, 2, 1]),  # b3: 1 of weight 2
    ([0, 2, 2, 2], None),
    ([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], None),
    ([4, 4, 1, 4], [1, 1, 1, 1]),
]


@pytest.mark.parametrize(("in_flight", "weights"), FLEETS)
def test_as_many_choices_as_backends_is_least_connections(in_flight, weights):
    pool = loaded(in_flight, weights)
    least = sequence("least_connections", pool, 1, 1)[0]
    assert set(sequence("p2c", pool, 50, 3, choice_count=len(in_flight))) == {least}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_choice_is_uniform_random_draw_for_draw(seed):
    pool = loaded([5, 0, 3, 9, 1, 2])
    assert sequence("p2c", pool, 500, seed, choice_count=1) == sequence("random", pool, 500, seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_choices_draw_exactly_as_p2c_always_did(seed):
    pool = loaded([5, 0, 3, 9, 1, 2, 2, 7])
    assert sequence("p2c", pool, 500, seed, choice_count=2) == sequence("p2c", pool, 500, seed)


def test_more_choices_pick_the_less_loaded_more_often():
    # one idle backend among 20 busy ones: d choices find it with probability ~ d/21
    pool = loaded([0] + [5] * 20)
    share = {
        d: Counter(sequence("p2c", pool, 20_000, 5, choice_count=d))["b0"] / 20_000
        for d in (1, 2, 3, 8)
    }
    assert share[1] < share[2] < share[3] < share[8]
    for d, got in share.items():
        assert got == pytest.approx(d / 21, abs=0.015), (d, got)


def test_choice_count_draws_distinct_backends():
    # two backends, three choices: every backend is looked at, nothing drawn twice
    pool = loaded([1, 0])
    assert set(sequence("p2c", pool, 100, 9, choice_count=3)) == {"b1"}


BAD = [
    # (options, the one line)
    ({"choice_count": 0}, "strategy_options.choice_count: must be >= 1, got 0"),
    ({"choice_count": 5}, "strategy_options.choice_count: 5 choices from a fleet of 4: at most 4"),
    ({"choice_count": "two"}, "strategy_options.choice_count"),
]


@pytest.mark.parametrize(("options", "line"), BAD)
def test_a_bad_choice_count_is_one_line_naming_the_key(options, line):
    scenario = Scenario(
        name="t",
        profile=load_profile("heterogeneous"),
        strategy="p2c",
        strategy_options=tuple(options.items()),
    )
    with pytest.raises(ConfigError) as refused:
        scenario.validate()
    assert str(refused.value).startswith(line)
    assert "\n" not in str(refused.value)


def test_a_single_backend_is_picked_whatever_the_count():
    pool = Pool([BackendState(Backend("only"))])
    assert sequence("p2c", pool, 3, 1, choice_count=3) == ["only"] * 3


# with replacement (Envoy's and HAProxy's way): the busier of two is picked when both draws
# land on it, one pick in four; distinct draws never pick it
REPLACEMENT = [
    (True, 0.0),
    (False, 0.25),
]


@pytest.mark.parametrize(("distinct", "busy_share"), REPLACEMENT)
def test_draws_with_or_without_replacement(distinct, busy_share):
    pool = loaded([4, 0])
    picks = Counter(sequence("p2c", pool, 20_000, 11, distinct=distinct))
    assert picks["b0"] / 20_000 == pytest.approx(busy_share, abs=0.01)


def test_a_proxys_p2c_is_simulated_as_the_proxy_draws():
    from lbbench.sim.engine import Simulation

    for proxy, distinct in (("envoy", False), ("haproxy", False), ("nginx", True)):
        scenario = Scenario(
            name="t", profile=load_profile("heterogeneous"), strategy="p2c", balancer=proxy
        )
        assert Simulation(scenario, 1).router.strategy.distinct is distinct, proxy
    with pytest.raises(ConfigError) as refused:
        Scenario(
            name="t",
            profile=load_profile("heterogeneous"),
            strategy="p2c",
            strategy_options=(("distinct", True),),
            balancer="envoy",
        ).validate()
    assert (
        str(refused.value) == "strategy_options.distinct: envoy's p2c has distinct = false, always"
    )
