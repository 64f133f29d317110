"""The balancer page in Chromium when a real proxy balances the calls (``lbbench locust
--balancer envoy|haproxy|nginx``): the page says the routing is the proxy's fixed config and
hides the switch, its rows are the proxy's own view of its targets (NGINX has no figure
for calls in flight and no health: shown as "-" and "unknown", never as zeros), and a
crash injected from the page shows up as the proxy taking the target out.

Marked slow (a proxy, four gRPC targets, Locust and a browser for each): CI's slow stage
runs it, with the proxies installed. Bounded: a small swarm, deadlines on every wait,
and the fixtures stop every process.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_locust_ui import page_row, start_swarm, wait_until
from tests.proxies.helpers import PROXIES, binary_or_skip

pytestmark = pytest.mark.slow

TARGETS = ["t0", "t1", "t2", "t3"]  # targets/uniform.toml
# what the proxy's own view can say of a crashed target (NGINX's shows no health at all)
TAKEN_OUT = {"envoy": ("down", "ejected"), "haproxy": ("down",), "nginx": None}


# One snapshot of the table, read inside the page in one go (row by row from the test, a
# refresh of the table could fall between two rows).
ROWS = """() => Object.fromEntries([...document.querySelectorAll('#rows tr')].map(
    (row) => [row.cells[0].textContent.trim(), parseInt(row.cells[3].textContent, 10)]))"""


def attempts(page) -> dict[str, int]:
    """Each target's attempts as the page's table shows them ({} before it has rows)."""
    shown = page.evaluate(ROWS)
    return shown if sorted(shown) == TARGETS else {}


@pytest.mark.parametrize("proxy", PROXIES)
def test_the_proxys_own_view_on_the_page_and_a_crash_from_it(locust_ui, page, proxy):
    binary_or_skip(proxy)
    ui = locust_ui(
        "--balancer", proxy, "--targets", "uniform", "--strategy", "round_robin",
        "--failover", "eject,retry", "--restart-s", "120",  # the crashed target stays down
    )  # fmt: skip

    page.goto(f"{ui.url}/balancer")
    expect(page.locator("#fixed-routing")).to_be_visible()
    expect(page.locator("#fixed-routing")).to_contain_text(f"{proxy} balances with the config")
    expect(page.locator("#switch")).to_be_hidden()
    expect(page.locator("#rows tr")).to_have_count(len(TARGETS))

    start_swarm(page, ui.url)
    page.goto(f"{ui.url}/balancer")
    wait_until(page, lambda: (a := attempts(page)) and all(v > 0 for v in a.values()), "calls")
    expect(page.locator("#state")).to_contain_text("Running")
    in_flight = page_row(page, "t0").locator("td").nth(2)
    health = page_row(page, "t0").locator("td.health")
    if proxy == "nginx":  # no such figures in its access log: said, not zeroed
        expect(in_flight).to_have_text("-")
        expect(health).to_have_text("unknown")
    else:
        expect(in_flight).to_have_text(re.compile(r"^\d+$"))
        expect(health).to_have_text("healthy")

    # A crash from the page: the target's gRPC Fault call; the proxy stops using it.
    page.locator("#target").select_option("t1")
    page.locator("#kind").select_option("crash")
    page.locator("#inject").click()
    expect(page.locator("#message")).to_have_class("ok")
    expect(page.locator("#message")).to_contain_text("t1")
    if TAKEN_OUT[proxy] is not None:
        out = "|".join(TAKEN_OUT[proxy])
        expect(page_row(page, "t1").locator("td.health")).to_have_text(
            re.compile(f"^({out})$"), timeout=30_000
        )
        expect(page.locator("#state")).to_contain_text(f"by {proxy}'s own view")
    # about a second of the swarm's calls (NGINX, with no health to show, takes a few
    # tenths of a second of refused connections to mark t1 failed)
    marked = attempts(page)
    later = wait_until(
        page,
        lambda: (a := attempts(page)) and sum(a.values()) - sum(marked.values()) >= 2000 and a,
        "2000 more attempts",
        timeout_s=40,
    )
    gained = {k: later[k] - marked[k] for k in TARGETS}
    assert gained["t1"] < 0.1 * sum(gained.values()), gained
