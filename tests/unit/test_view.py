"""The router's view of the backends' load (``view``): its own counts, or reports.

Scenario tables: under "local" (the default) load-aware strategies read the
router's own in-flight counts and reports change nothing; under "reports"
they read the last report only (its own sends do not move it); switching
back to "local" takes its own counts again.
"""

from __future__ import annotations

import random

import pytest

from lbbench.core.backends import Backend
from lbbench.core.config import RouterConfig
from lbbench.core.router import Router
from lbbench.core.settings import apply_settings, resolved
from lbbench.errors import ConfigError


def router(strategy: str = "least_connections", view: str = "local") -> Router:
    config = apply_settings(RouterConfig(), {"strategy": strategy, "view": view})
    return Router(config, [Backend("a"), Backend("b")], rng=random.Random(1))


def picks(r: Router, count: int) -> list[str]:
    """Where ``count`` new requests go (none answered meanwhile)."""
    sent = []
    for _ in range(count):
        actions = r.on_request(0.0, r.stats.requests)
        sent += [a.backend for a in actions if type(a).__name__ == "Send"]
    return sent


@pytest.mark.parametrize("strategy", ["least_connections", "p2c", "peak_ewma"])
def test_local_view_reads_own_counts_and_ignores_reports(strategy):
    r = router(strategy)
    r.on_load_report(0.0, {"a": 0, "b": 100})  # ignored: its own counts decide
    # with nothing answered, two backends and its own counts, picks alternate a / b
    assert sorted(picks(r, 4)) == ["a", "a", "b", "b"]
    assert [r.backends[b].load for b in "ab"] == [2, 2]


@pytest.mark.parametrize("strategy", ["least_connections", "p2c"])
def test_reports_view_reads_the_last_report_only(strategy):
    r = router(strategy, "reports")
    r.on_load_report(0.0, {"a": 0, "b": 100, "gone": 3})  # an unknown id is ignored
    # its own sends do not move the reported figure: every pick herds onto a
    assert picks(r, 6) == ["a"] * 6
    assert r.backends["a"].in_flight == 6 and r.backends["a"].load == 0
    r.on_load_report(0.1, {"a": 50, "b": 0})
    assert picks(r, 3) == ["b"] * 3


def test_switching_back_to_local_takes_its_own_counts_again():
    r = router("least_connections", "reports")
    r.on_load_report(0.0, {"a": 0, "b": 100})
    picks(r, 4)
    r.reconfigure(0.0, apply_settings(r.config, {"view": "local"}))
    assert [r.backends[b].load for b in "ab"] == [4, 0]
    assert picks(r, 4) == ["b"] * 4


def test_the_view_is_a_resolved_setting():
    paths = resolved(apply_settings(RouterConfig(), {"strategy": "p2c", "view": "reports"}))
    assert (paths["view"], paths["view_period_s"], paths["view_delay_s"]) == ("reports", 0.1, 0.0)


@pytest.mark.parametrize(
    ("settings", "where", "words"),
    [
        ({"view": "reports"}, "view", "round_robin cannot use view 'reports'"),
        ({"strategy": "p2c", "view_period_s": 0}, "view_period_s", "must be > 0"),
        ({"strategy": "p2c", "view_delay_s": -1}, "view_delay_s", "must be >= 0"),
        ({"strategy": "p2c", "view": 3}, "view", "must be a string"),
    ],
)
def test_bad_view_settings_name_the_path(settings, where, words):
    with pytest.raises(ConfigError) as raised:
        apply_settings(RouterConfig(), settings)
    assert raised.value.where == where
    assert words in raised.value.message
