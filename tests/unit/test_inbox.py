"""The balancer's inbox: a request is never held past its max wait, and a standing queue
turns new arrivals away at once (bursts shorter than the target pass)."""

from __future__ import annotations

import pytest

from lbbench.balancer.inbox import TARGET_S, Inbox


def filled(times: list[float], max_wait_s: float = 0.1) -> Inbox:
    inbox = Inbox(max_wait_s)
    for at in times:
        inbox.put([b"client", b"", b"payload"], 10, at)
    return inbox


def test_requests_older_than_the_max_wait_come_out_as_stale_oldest_first():
    inbox = filled([0.0, 0.05, 0.2])
    stale = [entry[0] for entry in inbox.stale(now=0.21)]
    assert stale == [0.0, 0.05]
    assert len(inbox) == 1 and inbox.bytes == 10


# (requests waiting, how long the oldest has waited, routing rate per second, standing?)
STANDING = [
    (0, 0.0, 1000.0, False),  # nothing waits
    (100, 0.001, 1000.0, False),  # a burst, but the oldest is younger than the target
    (3, 0.050, 1000.0, False),  # old, but a newcomer would wait 3 ms: under the target
    (10, 0.050, 1000.0, True),  # old, and a newcomer would wait 10 ms
    (10, 0.050, 0.0, False),  # no routing rate measured yet: no guessing
]


@pytest.mark.parametrize(("waiting", "oldest_s", "rate", "standing"), STANDING)
def test_a_standing_queue_is_one_that_stays_above_the_target(waiting, oldest_s, rate, standing):
    inbox = filled([1.0 - oldest_s] + [1.0] * (waiting - 1) if waiting else [])
    inbox.rate = rate
    assert inbox.standing(now=1.0) is standing
    assert TARGET_S == 0.005  # the table's numbers assume CoDel's 5 ms


def test_the_routing_rate_is_measured_over_turns_that_found_requests_waiting():
    inbox = filled([0.0] * 50)
    inbox.routed(now=1.000, count=10)  # first turn: nothing to measure against yet
    assert inbox.rate == 0.0
    inbox.routed(now=1.010, count=10)  # 10 routed over the last 10 ms
    assert inbox.rate == pytest.approx(1000.0)
    for _ in range(len(inbox)):
        inbox.take()
    inbox.routed(now=1.020, count=10)  # the queue is gone: the idle time is not measured
    inbox.put([b"c", b"", b"p"], 3, 5.0)
    inbox.put([b"c", b"", b"p"], 3, 5.0)
    inbox.routed(now=5.000, count=1)
    inbox.routed(now=5.002, count=1)  # 1 routed over 2 ms: 500/s, into the average
    assert inbox.rate == pytest.approx(1000.0 + 0.2 * (500.0 - 1000.0))
