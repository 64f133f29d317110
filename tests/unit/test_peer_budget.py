"""What a peer on the backend socket may send (``lbbench.balancer.budget``): scenario tables
on an injected clock."""

from __future__ import annotations

import pytest

from lbbench.balancer.budget import BudgetSettings, PeerBudgets

SETTINGS = BudgetSettings(
    rate_per_s=10.0, burst=20.0, strangers_per_s=5.0, quarantine_after=50, quarantine_s=2.0
)


def sent(budgets: PeerBudgets, peer: str, joined: bool, count: int, at: float) -> int:
    """How many of ``count`` messages sent at once at ``at`` are read."""
    return sum(budgets.allows(peer, joined, at) for _ in range(count))


# after a first message (a target's READY: a full bucket of 20, a stranger's share of 5),
# who sends how many at once, having been sent how many requests, and how many are read
SCENARIOS = [
    ("a target's heartbeats: within its burst", True, 15, 0, 15),
    ("a target over its burst", True, 30, 0, 19),
    ("a target answering 100 requests it was sent", True, 110, 100, 110),
    ("a target answering more than it was sent", True, 200, 100, 119),
    ("a stranger announcing itself again", False, 1, 0, 1),
    ("a stranger flooding: the strangers' bucket", False, 40, 0, 4),
]


@pytest.mark.parametrize(("what", "joined", "count", "earned", "read"), SCENARIOS)
def test_what_a_peers_traffic_explains_is_read_and_the_rest_dropped(
    what, joined, count, earned, read
):
    budgets = PeerBudgets(SETTINGS)
    assert budgets.allows("t0", joined, 0.0)
    for _ in range(earned):
        budgets.earned("t0")
    assert sent(budgets, "t0", joined, count, 0.0) == read, what
    assert budgets.dropped == count - read, what


def test_the_budget_refills_at_its_rate():
    budgets = PeerBudgets(SETTINGS)
    assert sent(budgets, "t0", True, 30, 0.0) == 20
    assert sent(budgets, "t0", True, 30, 0.5) == 5  # 10 a second: 5 in half a second
    assert sent(budgets, "t0", True, 30, 10.0) == 20  # never more than the burst saved


def test_a_peer_far_over_budget_is_quarantined_then_let_back():
    budgets = PeerBudgets(SETTINGS)
    sent(budgets, "flooder", False, 5 + 50, 0.0)  # the strangers' 5, then 50 over
    assert budgets.stats(0.0)["quarantined"] == ["flooder"]
    assert budgets.newly_quarantined == ["flooder"] and budgets.quarantines == 1
    assert sent(budgets, "flooder", False, 10, 1.0) == 0  # dropped at the first look
    assert sent(budgets, "new-target", False, 1, 1.0) == 1  # others may still announce
    assert sent(budgets, "flooder", False, 1, 3.0) == 1  # the quarantine is over
    assert budgets.stats(3.0)["quarantined"] == []


def test_strangers_leave_no_record_beyond_the_bound():
    budgets = PeerBudgets(SETTINGS)
    for index in range(30_000):  # as many ids as a peer cycling through them could make
        budgets.allows(f"s{index}", False, 0.0)
    assert len(budgets._stranger_over) <= 10_000 and not budgets._joined
