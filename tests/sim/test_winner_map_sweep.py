"""The shipped winner map, reduced to two of its cells, keeps the direction of the full map.

The full sweep (`lbbench sim winner-map`, 1 250 scenarios, 16 min on 2
cores) is in the README; here two cells at 10 backends, every contender,
4 trials, through the command line as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lbbench.results.winner_map import build_map, spec_of

QUIET_CRASH = "crash, 10 backends, load 0.3, 5% slow x10"
BUSY_CRASH = "crash, 10 backends, load 0.9, 5% slow x2"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("map")
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "sim", "winner-map", "--out", str(out),
         "--only", f"* | {QUIET_CRASH}", "--only", f"* | {BUSY_CRASH}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    [result] = out.glob("*.json")
    return json.loads(result.read_text()), result, done.stdout


def cell(data, conditions):
    built = build_map(data, spec_of(data, "sweep"))
    fault, backends, load, slow = conditions.split(", ")
    row = f"fault {fault}, backends {backends.split()[0]}"
    share, slowdown = slow.split(" slow x")
    return built, built.cells[(row, f"{load}, slow {share}, slowdown {slowdown}")]


def test_at_low_load_under_a_crash_probing_with_eject_and_retry_wins_clearly(sweep):
    data, _, _ = sweep
    _, quiet = cell(data, QUIET_CRASH)
    assert quiet.winner.contender == "probing eject+retry"
    assert quiet.clear
    round_robin = next(e for e in quiet.entries if e.contender == "round_robin eject+retry")
    assert round_robin.value >= 1.2 * quiet.winner.value
    # failing fast under a crash loses requests that ejecting and retrying saves
    for strategy in ("round_robin", "least_connections", "p2c", "peak_ewma", "probing"):
        fast = next(e for e in quiet.entries if e.contender == f"{strategy} fail_fast")
        saved = next(e for e in quiet.entries if e.contender == f"{strategy} eject+retry")
        assert saved.error_rate < fast.error_rate, strategy


def test_at_high_load_counting_requests_keeps_sending_to_the_dead_and_probing_does_not(sweep):
    data, _, _ = sweep
    _, busy = cell(data, BUSY_CRASH)
    by_name = {e.contender: e for e in busy.entries}
    # a crashed backend's requests time out and leave it with none in flight: least
    # connections then prefers it; a crashed backend answers no probes, so probing never does
    assert by_name["least_connections fail_fast"].error_rate >= 0.05
    assert by_name["probing fail_fast"].error_rate <= 0.01
    assert busy.winner.contender == "probing fail_fast"


def test_the_map_is_printed_and_written_beside_the_result(sweep):
    _, result, printed = sweep
    assert "winner map" in printed
    page = Path(str(result).removesuffix(".json") + ".map.html").read_text()
    assert page.count("<td style=") == 2
    again_at = result.parent / "m.html"
    again = subprocess.run(
        [sys.executable, "-m", "lbbench", "map", str(result), "--out", str(again_at)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again_at.read_text() == page
