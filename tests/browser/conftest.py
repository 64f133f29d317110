"""A real browser on the Locust UI: the system's Chromium driven by Playwright.

Playwright's own browser download cannot be fetched here, so it drives
the Chromium Debian installs (``apt-get install -y chromium
chromium-driver``, as root; ``LBBENCH_CHROMIUM`` names another binary).
Without one, every test here is skipped with that command as the reason.
``LBBENCH_SCREENSHOTS=DIR`` also keeps the screenshots the tests take in
DIR (the README's come from ``LBBENCH_SCREENSHOTS=docs/images``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL = "apt-get update && apt-get install -y chromium chromium-driver (as root)"
START_TIMEOUT_S = 90.0


def chromium() -> str | None:
    given = os.environ.get("LBBENCH_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    mine = [item for item in items if Path(str(item.fspath)).is_relative_to(here)]
    for item in mine:
        item.add_marker(pytest.mark.browser)
    if chromium() is None:
        skip = pytest.mark.skip(reason=f"no Chromium for the browser tests: {INSTALL}")
        for item in mine:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocustUI:
    """``lbbench locust`` with its web UI on a free loopback port, as a user starts it."""

    def __init__(self, out: Path, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = out / "lbbench-locust.log"
        self._log = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lbbench", "locust", "--out", str(out / "results"),
             "--web-port", str(self.port), *flags],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.process.poll() is None, f"lbbench locust exited: {self.tail()}"
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url, timeout=2):
                return
            assert time.monotonic() < deadline, f"the web UI never answered: {self.tail()}"
            time.sleep(0.2)  # sleep-ok: the interval of a poll bounded by its deadline

    def tail(self) -> str:
        self._log.flush()
        return self.log.read_text()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # as a Ctrl-C: it stops Locust, the rig
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(tmp_path):
    """``screenshot(page, name)``: a PNG in the test's folder, and in LBBENCH_SCREENSHOTS."""
    keep = os.environ.get("LBBENCH_SCREENSHOTS")

    def take(page, name: str, **options) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), **options)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    return take


@pytest.fixture
def locust_ui(tmp_path) -> Iterator:
    """Start ``lbbench locust FLAGS...`` (call it); everything it started stops afterwards."""
    started: list[LocustUI] = []

    def start(*flags: str) -> LocustUI:
        ui = LocustUI(tmp_path, *flags)
        started.append(ui)
        return ui

    yield start
    for ui in started:
        ui.stop()
