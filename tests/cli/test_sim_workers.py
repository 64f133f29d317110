"""Simulated scenarios on several processes give the same result set as on one.

Each scenario is seeded by itself, so `lbbench sim --workers N` may run
them in any order on any number of processes, and `--dask ADDRESS` on a
Dask cluster's workers: every figure of every scenario must be the same
as a serial run's, only the wall-clock fields (how long the simulation
took) differ. The cluster here is a Dask scheduler and two worker
processes on 127.0.0.1, each a process of its own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.integration.helpers import stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WALL_CLOCK = {"wall_s", "events_per_s"}  # the simulation's own speed, not its result


def simulate(tmp_path, *how: str) -> dict:
    """The slow-node suite, reduced, simulated with ``how`` (--workers N or --dask ADDRESS)."""
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "sim", "slow-node", "--trials", "2", "--duration", "2",
         *how, "--json", "--out", str(tmp_path / "-".join(how).replace("/", "_"))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def assert_the_same(serial: dict, other: dict) -> None:
    assert len(serial["scenarios"]) == len(other["scenarios"]) == 16
    for one, another in zip(serial["scenarios"], other["scenarios"], strict=True):
        assert one["key"] == another["key"]
        assert without_wall_clock(one) == without_wall_clock(another), one["name"]


def without_wall_clock(value):
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict:
    return simulate(tmp_path_factory.mktemp("serial"), "--workers", "1")


def test_two_processes_give_the_serial_run_scenario_by_scenario(tmp_path, serial):
    assert_the_same(serial, simulate(tmp_path, "--workers", "2"))


@pytest.fixture
def dask_cluster():
    """A Dask scheduler and two single-threaded worker processes on 127.0.0.1, started
    as a user would (``python -m distributed.cli.dask_scheduler`` and ``..._worker``);
    its address. Workers that join late are waited for by the scheduler, not here."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {name: subprocess.DEVNULL for name in ("stdin", "stdout", "stderr")}
    processes = [
        subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                          "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)
    ]  # fmt: skip
    for _ in range(2):
        processes.append(
            subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                              "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"], **quiet)
        )  # fmt: skip
    try:
        yield address
    finally:
        for process in reversed(processes):
            stop_process(process)


def test_a_dask_cluster_of_two_workers_gives_the_serial_run_scenario_by_scenario(
    tmp_path, serial, dask_cluster
):
    assert_the_same(serial, simulate(tmp_path, "--dask", dask_cluster))


def test_a_dask_scheduler_that_is_not_there_is_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "sim", "--dask", "tcp://127.0.0.1:1",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--dask: cannot reach the Dask scheduler at tcp://127.0.0.1:1" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_workers_must_be_at_least_one(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "sim", "--workers", "0", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--workers: must be >= 1, got 0" in done.stderr
    assert not any(tmp_path.iterdir())
