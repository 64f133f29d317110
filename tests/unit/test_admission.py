"""The admission mode: an AIMD limit on requests in flight, moved by each attempt's outcome."""

from __future__ import annotations

import random

import pytest

from lbbench.core.actions import Arm, Reply, Send
from lbbench.core.backends import Backend
from lbbench.core.config import FailoverConfig, RouterConfig
from lbbench.core.failover import AdmissionConfig
from lbbench.core.router import Router
from lbbench.errors import ConfigError
from lbbench.vocabulary import OVERLOADED, TIMEOUT


def router(**settings) -> Router:
    config = RouterConfig(
        strategy="round_robin",
        failover=FailoverConfig(
            modes=("admission",), settings={"admission": AdmissionConfig(**settings)}
        ),
        deadline_s=1.0,
    )
    made = Router(config, [Backend("a"), Backend("b")], rng=random.Random(1))
    made.start(0.0)
    return made


def send(r: Router, rid: int, now: float) -> list:
    return r.on_request(now, rid)


def attempt_of(actions: list) -> int:
    return next(a.attempt for a in actions if isinstance(a, Send))


def test_requests_over_the_limit_are_answered_overloaded_at_once():
    r = router(initial_limit=2)
    first, second = send(r, 0, 0.0), send(r, 1, 0.0)
    assert attempt_of(first) is not None and attempt_of(second) is not None
    third = send(r, 2, 0.0)
    assert third == [Reply(2, OVERLOADED, "")]
    assert r.stats.counters["refused"] == 1
    assert r.policy("admission").status() == {"limit": 2, "decreases": 0}


# (latency of each answer in seconds, the limit after them), starting at 10 with
# 6 requests in flight (more than half the limit: the limit is in use)
MOVES = [
    ([0.01], 11),  # fast: +1
    ([0.01, 0.01, 0.01], 13),
    ([0.2], 9),  # slower than 10 % of the 1 s deadline: x 0.9
    ([0.2, 0.2], 8),  # 10 x 0.9 x 0.9 = 8.1
]


@pytest.mark.parametrize(("latencies", "limit"), MOVES)
def test_fast_answers_grow_the_limit_slow_ones_cut_it(latencies, limit):
    r = router(initial_limit=10)
    attempts = [attempt_of(send(r, rid, 0.0)) for rid in range(6 + len(latencies))]
    for attempt, latency in zip(attempts, latencies, strict=False):
        r.on_reply(latency, attempt, True)
    assert r.policy("admission").status()["limit"] == limit


def test_a_timeout_cuts_the_limit_and_it_never_falls_below_the_minimum():
    r = router(initial_limit=3, min_limit=2)
    actions = [send(r, rid, 0.0) for rid in range(3)]
    deadline = next(a for a in actions[0] if isinstance(a, Arm))
    answered = r.on_timer(deadline.at, deadline.timer)  # no answer by the deadline
    assert Reply(0, TIMEOUT, "") in answered
    assert r.policy("admission").status() == {"limit": 2, "decreases": 1}  # 3 x 0.9 = 2.7
    for later in actions[1:]:
        timer = next(a for a in later if isinstance(a, Arm))
        r.on_timer(timer.at, timer.timer)
    assert r.policy("admission").status() == {"limit": 2, "decreases": 3}  # held at the minimum


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"initial_limit": 0}, "initial_limit"),
        ({"min_limit": 5, "max_limit": 4}, "max_limit"),
        ({"latency_share": 0}, "latency_share"),
        ({"backoff": 1.0}, "backoff"),
        ({"backoff": 1.5}, "backoff"),
    ],
)
def test_bad_settings_are_refused_by_their_path(settings, words):
    with pytest.raises(ConfigError, match=f"failover.admission.{words}"):
        AdmissionConfig(**settings)
