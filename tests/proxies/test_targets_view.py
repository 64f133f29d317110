"""What a proxy says of each target, read from its own words: NGINX's access log as it grows
(a line still being written waits), Envoy's and HAProxy's health words onto the page's."""

from __future__ import annotations

import pytest

from lbbench.proxies.targets_view import TargetsView, envoy_health, haproxy_health
from tests.proxies.helpers import plan_of, scenario

ENVOY = [
    ({"eds_health_status": "HEALTHY"}, "healthy"),
    ({"eds_health_status": "HEALTHY", "failed_outlier_check": True}, "ejected"),
    ({"eds_health_status": "HEALTHY", "failed_active_health_check": True}, "down"),
    ({"eds_health_status": "UNHEALTHY"}, "down"),
    ({}, "healthy"),
]
HAPROXY = [
    ("UP", "healthy"),
    ("UP 1/3", "healthy"),  # going down, still serving
    ("no check", "healthy"),
    ("DOWN", "down"),
    ("DOWN 1/2", "down"),  # coming back, not yet serving
    ("MAINT", "left"),
    ("", "unknown"),
]


@pytest.mark.parametrize(("status", "word"), ENVOY)
def test_envoys_health_flags_as_the_pages_words(status, word):
    assert envoy_health(status) == word


@pytest.mark.parametrize(("status", "word"), HAPROXY)
def test_haproxys_status_column_as_the_pages_words(status, word):
    assert haproxy_health(status) == word


def test_nginxs_access_log_is_counted_per_target_as_it_grows(tmp_path):
    plan = plan_of(scenario("nginx", "round_robin", ("retry",)), tmp_path)
    port = {u.id: u.port for u in plan.upstreams}
    log = tmp_path / "nginx-access.log"
    view = TargetsView(plan)
    log.write_text(
        f"127.0.0.1:{port['t0']}|200|200|0.002\n"
        f"127.0.0.1:{port['t1']}, 127.0.0.1:{port['t2']}|502, 200|200|0.004\n"
        f"127.0.0.1:{port['t3']}|504|504|1.100\n"
        f"127.0.0.1:{port['t0']}|2"  # still being written
    )
    rows = {row.id: row for row in view.rows()}
    assert view.problem is None
    assert {t: (r.sent, r.errors, r.timeouts) for t, r in rows.items()} == {
        "t0": (1, 0, 0),
        "t1": (1, 1, 0),
        "t2": (1, 0, 0),
        "t3": (1, 0, 1),
    }
    assert all(r.in_flight is None and r.health == "unknown" for r in rows.values())
    with log.open("a") as more:
        more.write("00|200|0.002\n")  # the line ends: now it counts, once
    rows = {row.id: row for row in view.rows()}
    assert rows["t0"].sent == 2 and sum(r.sent for r in rows.values()) == 5


def test_a_proxy_that_does_not_answer_says_so_rather_than_zeros(tmp_path):
    plan = plan_of(scenario("haproxy", "round_robin", ("fail_fast",)), tmp_path)
    view = TargetsView(plan)  # no HAProxy, no admin socket
    rows = view.rows()
    assert view.problem is not None and view.problem.startswith("haproxy did not say:")
    assert all(row.health == "unknown" and row.in_flight is None for row in rows)
