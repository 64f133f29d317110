"""A user drives a load test from the Locust web UI in Chromium, and sees what happens.

`lbbench locust` starts the rig and Locust's web UI; the browser starts a
swarm from Locust's own form, reads the Balancer tab, injects faults and
switches the balancer from the /balancer page, stops the swarm and
downloads the lbbench result set and HTML report from Locust's download
page. Every step asserts on what the page shows, waiting with a deadline
(Playwright's expect). Bounded: the swarm is small, every wait has a
deadline, and the fixtures stop every process.
"""

from __future__ import annotations

import json
import re

import psutil
from playwright.sync_api import expect

from lbbench.results.files import read_result

TARGETS = ["t0", "t1", "t2", "t3"]  # targets/heterogeneous.toml
USERS = 20


def start_swarm(page, url: str, host: str | None = None) -> None:
    """Locust's own start form: users, ramp-up, (host), START."""
    page.goto(url)
    page.locator("input[name=userCount]").fill(str(USERS))
    page.locator("input[name=spawnRate]").fill(str(USERS))
    if host is not None:
        page.locator("input[name=host]").fill(host)
    page.get_by_role("button", name=re.compile("^start$", re.I)).click()


def balancer_tab_rows(page) -> dict[str, list[str]]:
    """The Balancer tab's table: the first cell of each row -> its cells."""
    rows = {}
    for row in page.locator("table tbody tr").all():
        cells = [cell.inner_text().strip() for cell in row.locator("td").all()]
        if cells:
            rows[cells[0]] = cells
    return rows


def page_row(page, backend: str):
    """The row of ``backend`` in the /balancer page's table."""
    first_cell = page.locator("td", has_text=re.compile(f"^{backend}$"))
    return page.locator("#rows tr").filter(has=first_cell)


def share_of(page, backend: str) -> float:
    """The share column of ``backend`` on /balancer ("12.3% / 25.0%": share / expected)."""
    text = page_row(page, backend).locator("td").nth(4).inner_text()
    return float(text.strip().split("%")[0])


def wait_until(page, check, what: str, timeout_s: float = 30.0):
    """Poll ``check()`` (reading the page) until it is truthy, with a deadline."""
    deadline_ms = timeout_s * 1000
    waited = 0
    while waited < deadline_ms:
        value = check()
        if value:
            return value
        page.wait_for_timeout(250)
        waited += 250
    raise AssertionError(f"the page never showed {what} within {timeout_s} s")


def test_a_swarm_driven_and_watched_from_the_browser(locust_ui, page, screenshot, tmp_path):
    ui = locust_ui("--targets", "heterogeneous", "--strategy", "p2c", "--failover", "eject,retry")

    # Before the swarm: the page says the rig is up and waiting.
    page.goto(f"{ui.url}/balancer")
    expect(page.locator("#state")).to_contain_text("4 targets joined")
    expect(page.locator("#strategy")).to_have_value("p2c")  # what runs, not the first listed

    # Locust's form starts the swarm; the Balancer tab fills with one row per target.
    start_swarm(page, ui.url)
    expect(page.get_by_text(re.compile("^running$", re.I)).first).to_be_visible()
    page.get_by_role("tab", name="Balancer").click()
    expect(page.locator("table tbody tr")).to_have_count(len(TARGETS) + 1)
    rows = wait_until(
        page,
        lambda: (
            (r := balancer_tab_rows(page))
            and "-" not in r.get(next((k for k in r if k.startswith("fleet")), ""), ["-"])[-2:]
            and r
        ),
        "latency figures",
    )
    assert sorted(k for k in rows if not k.startswith("fleet")) == TARGETS
    fleet = next(cells for name, cells in rows.items() if name.startswith("fleet: p2c"))
    assert fleet[1].startswith("Jain")
    raw, corrected = float(fleet[-2]), float(fleet[-1].split()[0])
    assert 0 < raw <= corrected  # both shown, labelled in the column titles
    expect(page.locator("thead")).to_contain_text("as Locust")
    expect(page.locator("thead")).to_contain_text("coordinated omission")
    screenshot(page, "locust-balancer-tab")

    # /balancer: slow t1 ten times; p2c moves load off it.
    page.goto(f"{ui.url}/balancer")
    expect(page.locator("#state")).to_contain_text("Running: p2c / eject+retry")
    expect(page.locator("#rows tr")).to_have_count(len(TARGETS))
    page.locator("#target").select_option("t1")
    page.locator("#kind").select_option("slow")
    page.locator("#factor").fill("10")
    before = share_of(page, "t1")
    page.locator("#inject").click()
    expect(page.locator("#message")).to_contain_text("t1")
    expect(page.locator("#message")).to_have_class("ok")
    wait_until(page, lambda: share_of(page, "t1") < before - 2, "t1's share falling")
    # a fault with a bad field is refused with its reason, in the page, and changes nothing
    page.locator("#target").select_option("t3")
    page.locator("#factor").fill("0")
    page.locator("#inject").click()
    expect(page.locator("#message")).to_have_class("error")
    expect(page.locator("#message")).to_contain_text("factor")
    expect(page_row(page, "t3").locator("td.health")).to_have_text("healthy")
    expect(page.locator("#chart-shares text", has_text="t1 slow x10")).to_have_count(1)

    # Crash t2: the balancer takes it out, the page says so, and it comes back.
    page.locator("#target").select_option("t2")
    page.locator("#kind").select_option("crash")
    page.locator("#inject").click()
    expect(page.locator("#state")).to_contain_text(re.compile(r"t2 is (down|ejected|left)"))
    expect(page_row(page, "t2").locator("td.health")).not_to_have_text("healthy")
    # the charts mark both faults' windows, and plot raw and corrected latency
    expect(page.locator("#chart-shares text", has_text="t2 crash")).to_have_count(1)
    expect(page.locator("#legend-latency")).to_contain_text("p99 raw (as Locust)")
    expect(page.locator("#legend-latency")).to_contain_text("p99 corrected")
    screenshot(page, "balancer-page-under-faults", full_page=True)
    expect(page_row(page, "t2").locator("td.health")).to_have_text("healthy", timeout=30_000)

    # Switch the strategy and a failover setting by its path; the balancer reports both.
    page.locator("#strategy").select_option("least_connections")
    page.locator("#set-strategy").click()
    expect(page.locator("#message")).to_contain_text("strategy least_connections")
    expect(page.locator("#state")).to_contain_text("least_connections / eject+retry")
    page.locator("#setting-path").fill("failover.retry.budget_ratio")
    page.locator("#setting-value").fill("0.35")
    page.locator("#set-setting").click()
    expect(page.locator("#message")).to_have_class("ok")
    expect(page.locator("#setting-now")).to_have_text("in force: 0.35")
    page.reload()
    expect(page.locator("#strategy")).to_have_value("least_connections")
    # a bad setting is refused with its reason, in the page
    page.locator("#setting-path").fill("failover.retry.no_such_thing")
    page.locator("#set-setting").click()
    expect(page.locator("#message")).to_have_class("error")
    expect(page.locator("#message")).to_contain_text("no_such_thing")

    # Stop the swarm from Locust's page; download what lbbench made of the run.
    page.goto(ui.url)
    page.get_by_role("button", name=re.compile("^stop$", re.I)).click()
    expect(page.get_by_text(re.compile("^stopped$", re.I)).first).to_be_visible()
    locust_requests = json.loads(page.request.get(f"{ui.url}/stats/requests").text())
    total = next(s for s in locust_requests["stats"] if s["name"] == "Aggregated")["num_requests"]
    page.get_by_role("tab", name="Download Data").click()
    with page.expect_download() as download:
        page.get_by_text("Download the lbbench result set (JSON)").click()
    result_path = tmp_path / download.value.suggested_filename
    download.value.save_as(result_path)
    (scenario,) = read_result(result_path)["scenarios"]
    assert scenario["summary"]["requests"]["sent"] == total > 0  # every call Locust counted
    assert scenario["strategy"] == "least_connections"
    assert scenario["router_settings"]["failover.retry.budget_ratio"] == 0.35
    with page.expect_download() as download:
        page.get_by_text("Download the lbbench HTML report").click()
    report = tmp_path / download.value.suggested_filename
    download.value.save_as(report)
    assert "<h1>lbbench report</h1>" in report.read_text()

    # The balancer gone: the page says so instead of a blank table.
    balancer = next(
        p
        for p in psutil.Process(ui.process.pid).children(recursive=True)
        if " balancer " in " ".join(p.cmdline()) + " "
    )
    balancer.kill()
    page.goto(f"{ui.url}/balancer")
    expect(page.locator("#state")).to_contain_text("not answering")
    expect(page.locator("#state")).to_have_class("gone")


def test_a_host_the_users_cannot_call_is_refused_in_the_form(locust_ui, page):
    ui = locust_ui("--targets", "uniform")
    start_swarm(page, ui.url, host="tcp://127.0.0.1")  # the port forgotten
    expect(page.get_by_text(re.compile("expected tcp://HOST:PORT"))).to_be_visible()
    state = json.loads(page.request.get(f"{ui.url}/stats/requests").text())["state"]
    assert state == "ready"  # no swarm started


HOSTILE = "<img src=x onerror=\"document.title='PWNED'\">"


def target_backend_endpoint(ui) -> str:
    """The balancer's backend socket, read off a target process's command line."""
    for process in psutil.Process(ui.process.pid).children(recursive=True):
        words = process.cmdline()
        if "target" in words and "--backend" in words:
            return words[words.index("--backend") + 1]
    raise AssertionError("no target process found")


def nothing_injected(page) -> None:
    assert page.title() == "lbbench: balancer under test"
    assert page.locator("img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")


def test_a_peer_with_a_hostile_id_cannot_join_or_reach_the_page(locust_ui, page):
    import zmq

    ui = locust_ui("--targets", "uniform")
    page.goto(f"{ui.url}/balancer")
    expect(page.locator("#state")).to_contain_text("4 targets joined")
    rogue = zmq.Context.instance().socket(zmq.DEALER)
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.setsockopt(zmq.IDENTITY, HOSTILE.encode())
    rogue.connect(target_backend_endpoint(ui))
    try:
        rogue.send_multipart([b"READY", b"{}"])
        rogue.send_multipart([b"HB"])
        assert rogue.poll(10_000), "the balancer never answered the rogue"
        assert rogue.recv_multipart() == [b"WHO"]  # not joined: asked to announce itself
        page.reload()
        expect(page.locator("#rows tr")).to_have_count(4)
        page.wait_for_timeout(1500)  # sleep-ok: two refreshes of the page, which must add nothing
        expect(page.locator("#rows tr")).to_have_count(4)
        nothing_injected(page)
    finally:
        rogue.close(0)


def test_whatever_the_endpoints_say_the_page_shows_as_text(locust_ui, page):
    """Even if hostile text got past the id check (a peer, a setting, a fault label), the page
    puts it on the screen as text, and its policy would not run injected script anyway."""
    ui = locust_ui("--targets", "uniform")
    script = f"<script>window.__pwned = 1</script>{HOSTILE}"

    def poisoned_data(route):
        data = route.fetch().json()
        for b in data["backends"]:
            b["backend"] = f"{b['backend']} {script}"
            b["health"] = f"healthy {HOSTILE}"
        data["strategies"].append(script)
        data["settings"][script] = script
        route.fulfill(json=data)

    def poisoned_history(route):
        history = route.fetch().json()
        fault = {"start": 0, "end": 1, "target": script, "kind": HOSTILE, "detail": {}}
        history["faults"] = [fault]
        route.fulfill(json=history)

    page.route("**/balancer/data", poisoned_data)
    page.route("**/balancer/history", poisoned_history)
    response = page.goto(f"{ui.url}/balancer")
    policy = response.headers["content-security-policy"]
    assert "script-src 'nonce-" in policy and "unsafe-inline" not in policy
    expect(page.locator("#rows tr")).to_have_count(4, timeout=30_000)
    expect(page.locator("#rows tr").first.locator("td").first).to_contain_text("<script>")
    expect(page.locator("#strategy option", has_text="<script>")).to_have_count(1)
    nothing_injected(page)
    for endpoint in ("data", "history"):
        headers = page.request.get(f"{ui.url}/balancer/{endpoint}").headers
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert headers["x-content-type-options"] == "nosniff"
