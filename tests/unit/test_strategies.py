"""Scenario tables for every strategy, on a seeded rng and an injected clock."""

from __future__ import annotations

import ast
import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from lbbench.core.backends import Backend, BackendState
from lbbench.core.strategies import STRATEGIES, Pool, make_strategy


def states(weights: list[int], prefix: str = "b") -> list[BackendState]:
    return [BackendState(Backend(f"{prefix}{i}", weight=w)) for i, w in enumerate(weights)]


def request(key: bytes | None = None) -> SimpleNamespace:
    return SimpleNamespace(key=key)


def picks(name: str, pool: Pool, count: int, seed: int = 7, **options) -> Counter[str]:
    strategy = make_strategy(name, random.Random(seed), options)
    counts: Counter[str] = Counter()
    for i in range(count):
        chosen = strategy.pick(pool, request(), i * 1e-4)
        counts[chosen.id] += 1
    return counts


STRATEGIES_DIR = Path(__file__).resolve().parents[2] / "lbbench" / "core" / "strategies"


def _source_docstring(cls: type) -> str:
    """The class's docstring as written (a compiled class keeps none at run time)."""
    path = Path(STRATEGIES_DIR, cls.__module__.rsplit(".", 1)[1] + ".py")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return ast.get_docstring(node) or ""
    raise AssertionError(f"{cls.__name__} not found in {path}")


def test_every_strategy_is_documented_with_its_rule_and_origin():
    for name, cls in STRATEGIES.items():
        doc = _source_docstring(cls)
        assert len(doc.split()) > 25, name
        assert "Rule" in doc, name
        assert cls.summary, name


@pytest.mark.parametrize(
    ("backends", "rounds"),
    [(1, 10), (3, 1), (3, 1000), (7, 333), (50, 20)],
)
def test_round_robin_is_exactly_even_over_k_times_n_picks(backends, rounds):
    pool = Pool(states([1] * backends))
    counts = picks("round_robin", pool, backends * rounds)
    assert set(counts.values()) == {rounds}


WEIGHTED_SCENARIOS = [
    # strategy, weights
    ("weighted_random", [3, 1, 1, 1]),
    ("weighted_random", [5, 1, 2]),
    ("weighted_random", [1, 2, 3, 4, 10]),
    ("weighted_round_robin", [3, 1, 1, 1]),
    ("weighted_round_robin", [5, 1, 2]),
    ("weighted_round_robin", [1, 2, 3, 4, 10]),
    # idle backends (requests finish before the next arrives): ties all the way
    ("least_connections", [3, 1, 1, 1]),
    ("least_connections", [1, 2, 3, 4, 10]),
]


@pytest.mark.parametrize(("name", "weights"), WEIGHTED_SCENARIOS)
def test_weighted_strategies_follow_the_weights_within_one_point(name, weights):
    total_picks = 100_000
    pool = Pool(states(weights))
    counts = picks(name, pool, total_picks)
    total = sum(weights)
    for i, weight in enumerate(weights):
        share = counts[f"b{i}"] / total_picks
        # within 1 percentage point of weight / total
        assert abs(share - weight / total) <= 0.01, (name, weights, i, share)


@pytest.mark.parametrize(
    ("weights", "cycle"),
    [
        ([5, 1, 1], "aabacaa"),
        ([5, 1, 2], "acaabaca"),
        ([1, 1, 1], "abc"),
        ([2, 1], "aba"),
    ],
)
def test_smooth_weighted_round_robin_gives_nginx_sequences(weights, cycle):
    pool = Pool(states(weights))
    strategy = make_strategy("weighted_round_robin", random.Random(1))
    letters = "abcdefgh"
    seen = "".join(
        letters[int(strategy.pick(pool, request(), 0.0).id[1:])] for _ in range(3 * len(cycle))
    )
    assert seen == cycle * 3


def test_least_connections_prefers_fewest_in_flight_per_weight_and_spreads_ties():
    pool = Pool(states([1, 1, 2, 1]))
    b0, b1, b2, b3 = pool.members
    b0.load, b1.load, b2.load, b3.load = 2, 1, 3, 5
    strategy = make_strategy("least_connections", random.Random(1))
    # loads per weight: 2, 1, 1.5, 5 -> b1
    assert strategy.pick(pool, request(), 0.0) is b1
    b1.load = 3  # now b2 (1.5) is lightest
    assert strategy.pick(pool, request(), 0.0) is b2
    # all tied: picks rotate instead of always taking the first
    for b in pool.members:
        b.load = 0
    tied = Pool(states([1, 1, 1, 1]))
    chosen = [strategy.pick(tied, request(), 0.0).id for _ in range(8)]
    assert Counter(chosen) == {"b0": 2, "b1": 2, "b2": 2, "b3": 2}


def balls_into_bins(name: str, bins: int, seed: int) -> int:
    """Throw ``bins`` requests at ``bins`` backends, none finishing; the max load."""
    pool = Pool(states([1] * bins))
    strategy = make_strategy(name, random.Random(seed))
    for _ in range(bins):
        chosen = strategy.pick(pool, request(), 0.0)
        chosen.load += 1  # (the load the router's own counts give: view "local")
    return max(b.load for b in pool.members)


@pytest.mark.parametrize("bins", [1_000, 10_000])
def test_p2c_and_least_connections_keep_the_max_load_well_below_random(bins):
    # Theory for n balls in n bins: random ~ ln n / ln ln n (3.6 at 1000, 4.1 at
    # 10000, with real maxima a few higher), p2c ~ ln ln n / ln 2 + O(1) (2.8, 3.2).
    # Seen with these seeds: random 6 and 7, p2c 3 and 3, least_connections 1 and 1.
    random_max = max(balls_into_bins("random", bins, seed) for seed in (1, 2, 3))
    p2c_max = max(balls_into_bins("p2c", bins, seed) for seed in (1, 2, 3))
    if bins <= 1_000:  # least_connections scans every backend: O(n^2) for n balls
        assert balls_into_bins("least_connections", bins, 1) == 1
    assert p2c_max <= 4
    assert random_max >= 5
    assert p2c_max <= random_max - 2


def test_p2c_never_picks_the_same_backend_twice_as_its_two_choices():
    pool = Pool(states([1, 1]))
    a, b = pool.members
    a.load = 5
    strategy = make_strategy("p2c", random.Random(3))
    # with two backends the two choices are always both, so the lighter always wins
    assert all(strategy.pick(pool, request(), 0.0) is b for _ in range(200))


KEYS = [f"user-{i}".encode() for i in range(10_000)]


@pytest.mark.parametrize("name", ["ring_hash", "maglev"])
def test_hashing_maps_a_key_to_the_same_backend_every_time(name):
    pool = Pool(states([1] * 8))
    strategy = make_strategy(name, random.Random(1))
    first = {key: strategy.pick(pool, request(key), 0.0) for key in KEYS[:2000]}
    rng = random.Random(5)
    for _ in range(5000):
        key = rng.choice(KEYS[:2000])
        assert strategy.pick(pool, request(key), 0.0) is first[key]


@pytest.mark.parametrize(
    ("name", "backends"), [("ring_hash", 10), ("maglev", 10), ("ring_hash", 25), ("maglev", 25)]
)
def test_removing_one_backend_moves_about_one_nth_of_the_keys(name, backends):
    everyone = states([1] * backends)
    strategy = make_strategy(name, random.Random(1))
    before = {k: strategy.pick(Pool(everyone), request(k), 0.0).id for k in KEYS}
    removed = everyone[3]
    fewer = Pool([b for b in everyone if b is not removed])
    after = {k: strategy.pick(fewer, request(k), 0.0).id for k in KEYS}
    moved = sum(before[k] != after[k] for k in KEYS) / len(KEYS)
    ideal = 1 / backends
    assert ideal / 2 <= moved <= 2 * ideal, moved
    # every key of the removed backend moved, of course
    assert all(after[k] != removed.id for k in KEYS)


@pytest.mark.parametrize("name", ["ring_hash", "maglev"])
def test_hashing_ejection_moves_only_the_ejected_backends_keys(name):
    everyone = tuple(states([1] * 6))
    strategy = make_strategy(name, random.Random(1))
    full = Pool(everyone, everyone)
    before = {k: strategy.pick(full, request(k), 0.0) for k in KEYS[:3000]}
    ejected = everyone[2]
    healthy = Pool([b for b in everyone if b is not ejected], everyone)
    for key, owner in before.items():
        now = strategy.pick(healthy, request(key), 0.0)
        if owner is ejected:
            assert now is not ejected
        else:
            assert now is owner


@pytest.mark.parametrize(
    ("name", "weights"),
    [("ring_hash", [1] * 10), ("maglev", [1] * 10), ("maglev", [2, 1, 1, 1, 1, 2, 1, 1])],
)
def test_bounded_load_keeps_max_over_mean_at_or_below_c(name, weights):
    c = 1.25
    pool = Pool(states(weights))
    strategy = make_strategy(name, random.Random(1), {"bounded_load": True, "load_factor": c})
    rng = random.Random(9)
    hot = [b"hot-0", b"hot-1"]
    for _ in range(2000):
        # 80 % of requests carry one of two hot keys
        key = rng.choice(hot) if rng.random() < 0.8 else rng.choice(KEYS)
        chosen = strategy.pick(pool, request(key), 0.0)
        chosen.in_flight += 1
        pool.in_flight += 1
    total_weight = sum(weights)
    worst = max(b.in_flight / (pool.in_flight * b.weight / total_weight) for b in pool.members)
    assert worst <= c + 1e-9, worst


def test_hashing_without_a_key_spreads_evenly():
    pool = Pool(states([1] * 5))
    for name in ("ring_hash", "maglev"):
        counts = picks(name, pool, 5000)
        assert set(counts.values()) == {1000}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_pick_excluding_never_returns_an_excluded_backend(name):
    pool = Pool(states([1, 2, 1, 3]))
    strategy = make_strategy(name, random.Random(2))
    rng = random.Random(4)
    for i in range(300):
        exclude = set(rng.sample(pool.members, rng.randrange(0, 4)))
        chosen = strategy.pick_excluding(pool, request(rng.choice(KEYS)), i * 0.001, exclude)
        assert chosen is not None and chosen not in exclude
    assert strategy.pick_excluding(pool, request(b"k"), 1.0, set(pool.members)) is None
