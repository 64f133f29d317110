"""Simulated scenarios on several processes give the same result set as on one.

Each scenario is seeded by itself, so `lbbench sim --workers N` may run
them in any order on any number of processes: every figure of every
scenario must be the same as a serial run's, only the wall-clock fields
(how long the simulation took) differ.
"""

from __future__ import annotations

import json
import subprocess
import sys

WALL_CLOCK = {"wall_s", "events_per_s"}  # the simulation's own speed, not its result


def simulate(tmp_path, workers: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "sim", "slow-node", "--trials", "2", "--duration", "2",
         "--workers", str(workers), "--json", "--out", str(tmp_path / f"w{workers}")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def without_wall_clock(value):
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value


def test_two_processes_give_the_serial_run_scenario_by_scenario(tmp_path):
    serial, parallel = simulate(tmp_path, 1), simulate(tmp_path, 2)
    assert len(serial["scenarios"]) == len(parallel["scenarios"]) == 16
    for one, other in zip(serial["scenarios"], parallel["scenarios"], strict=True):
        assert one["key"] == other["key"]
        assert without_wall_clock(one) == without_wall_clock(other), one["name"]


def test_workers_must_be_at_least_one(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "sim", "--workers", "0", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--workers: must be >= 1, got 0" in done.stderr
    assert not any(tmp_path.iterdir())
