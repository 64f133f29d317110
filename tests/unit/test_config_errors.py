"""Bad configuration raises one ConfigError that names the field."""

from __future__ import annotations

import random

import pytest

from lbbench.core.backends import Backend
from lbbench.core.config import FailoverConfig, RouterConfig, parse_failover
from lbbench.core.failover import EjectConfig, HedgeConfig, RetryConfig
from lbbench.core.router import Router
from lbbench.core.strategies import make_strategy
from lbbench.errors import ConfigError

BAD = [
    # what is built, the field the message must name, words it must contain
    (lambda: RouterConfig(strategy="fastest"), "strategy", "unknown strategy 'fastest'"),
    (lambda: Backend("a", weight=0), "backend 'a'.weight", "integer >= 1"),
    (lambda: Backend("a", weight=-2), "backend 'a'.weight", "integer >= 1"),
    (lambda: Backend("a", weight=1.5), "backend 'a'.weight", "integer >= 1"),
    (lambda: Backend("a", tier=-1), "backend 'a'.tier", "integer >= 0"),
    (lambda: Backend(""), "backend.id", "non-empty"),
    (
        lambda: Router(
            RouterConfig(), [Backend("a"), Backend("b"), Backend("a")], rng=random.Random()
        ),
        "targets",
        "duplicate backend id 'a'",
    ),
    (lambda: HedgeConfig(delay_s=-0.01), "failover.hedge.delay_s", ">= 0.0"),
    (lambda: HedgeConfig(percentile=0), "failover.hedge.percentile", "> 0.0"),
    (lambda: RetryConfig(max_attempts=0), "failover.retry.max_attempts", ">= 1"),
    (lambda: RetryConfig(budget_ratio=-1), "failover.retry.budget_ratio", ">= 0.0"),
    (lambda: RetryConfig(per_try_timeout_s=0), "failover.retry.per_try_timeout_s", "> 0.0"),
    (
        lambda: EjectConfig(max_ejected_fraction=1.5),
        "failover.eject.max_ejected_fraction",
        "<= 1.0",
    ),
    (
        lambda: EjectConfig(consecutive_failures=True),
        "failover.eject.consecutive_failures",
        "number",
    ),
    (
        lambda: FailoverConfig(modes=("retry", "teleport")),
        "failover",
        "unknown failover mode 'teleport'",
    ),
    (lambda: FailoverConfig(modes=("fail_fast", "retry")), "failover", "cannot be combined"),
    (lambda: parse_failover("retry,,retry"), "--failover", "given twice"),
    (lambda: RouterConfig(deadline_s=0), "deadline_s", "> 0.0"),
    (
        lambda: RouterConfig(strategy="maglev", strategy_options={"table_size": 1000}),
        "strategy_options.table_size",
        "prime",
    ),
    (
        lambda: RouterConfig(strategy="p2c", strategy_options={"choices": 3}),
        "strategy_options.choices",
        "p2c has no option 'choices'",
    ),
    (
        lambda: make_strategy("ring_hash", random.Random(), {"vnodes": "many"}),
        "strategy_options.vnodes",
        "must be an integer",
    ),
    (
        lambda: make_strategy("ring_hash", random.Random(), {"load_factor": 0.9}),
        "strategy_options.load_factor",
        "> 1.0",
    ),
]


@pytest.mark.parametrize(("build", "where", "words"), BAD)
def test_bad_configuration_names_the_field(build, where, words):
    with pytest.raises(ConfigError) as caught:
        build()
    error = caught.value
    assert error.where == where
    assert words in str(error)
    assert "\n" not in str(error)


def test_failover_lists_parse_with_commas_or_plus():
    assert parse_failover("eject,retry") == ("eject", "retry")
    assert parse_failover("eject+retry") == ("eject", "retry")
    assert parse_failover(" hedge ") == ("hedge",)
