"""Runs survive their rig: a process killed mid-trial loses that trial, not the run.

`lbbench run` is started as a user would; once its first trial's load is
under way, the test SIGKILLs one of the run's processes. The run must end
that trial as invalid with its unanswered requests counted, go on to the
next trial, write the result set and exit with status 4.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest

from lbbench.results.files import read_result
from lbbench.rigs.calibration import CALIBRATION_S

RUN_TIMEOUT_S = 120.0


def _descendant(run: psutil.Process, words: str, not_before: float = 0.0) -> psutil.Process | None:
    """A process the run started, after ``not_before`` (a time.time()), running ``words``."""
    for child in run.children(recursive=True):
        try:
            if words in " ".join(child.cmdline()) and child.create_time() >= not_before:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _kill_mid_load(run: subprocess.Popen, victim_words: str) -> None:
    """Wait (polling, with a deadline) until the first trial's balancer has routed
    load for a while, then SIGKILL the process whose command line has ``victim_words``.

    The first generator belongs to the rig's calibration (a rig of its own,
    before the trials, sending for CALIBRATION_S): the trial's processes are
    those started well after it was. (Not "after it ended": the first
    trial's balancer can start before this poll sees the calibration's
    generator gone, and a zombie counts as running until it is reaped.)
    """
    parent = psutil.Process(run.pid)
    deadline = time.monotonic() + 60.0
    calibration = None
    while calibration is None:
        assert time.monotonic() < deadline, "the rig's calibration never ran"
        calibration = _descendant(parent, "lbbench.rigs.loadgen")
        time.sleep(0.02)  # sleep-ok: the poll's tick
    trial_from = calibration.create_time() + CALIBRATION_S / 2
    generator = balancer = None
    cpu_at_start = 0.0
    while time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before the victim could be killed"
        if generator is None or balancer is None:
            generator = generator or _descendant(parent, "lbbench.rigs.loadgen", trial_from)
            balancer = balancer or _descendant(parent, " balancer ", trial_from)
            if generator is not None and balancer is not None:
                cpu_at_start = sum(balancer.cpu_times()[:2])
        elif sum(balancer.cpu_times()[:2]) - cpu_at_start > 0.1:  # it has been routing
            victim = _descendant(parent, victim_words, trial_from)
            assert victim is not None, f"no process {victim_words!r} to kill"
            victim.kill()
            return
        time.sleep(0.02)  # sleep-ok: the poll's tick
    raise AssertionError("the load never got under way")


# (process killed, what the failed trial's reason says)
KILLED = [
    ("lbbench balancer", "the balancer exited unplanned (signal 9)"),
    ("lbbench.rigs.loadgen", "generator process 1 of 1 died (signal 9)"),
]


@pytest.mark.parametrize(("victim", "reason"), KILLED)
def test_a_process_killed_mid_trial_loses_that_trial_not_the_run(tmp_path, victim, reason):
    command = [
        sys.executable, "-m", "lbbench", "run",
        "--targets", "uniform", "--strategy", "p2c", "--failover", "retry",
        "--rate", "300", "--duration", "4", "--trials", "2", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _kill_mid_load(run, victim)
        _, err = run.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 4, err
    assert "RIG FAILED in 1 trial(s)" in err
    [path] = tmp_path.glob("*.json")
    [scenario] = read_result(path)["scenarios"]
    first, second = scenario["trials"]
    assert first["valid"] is False and reason in first["rig_failure"]["reason"]
    failure = first["rig_failure"]
    assert failure["unanswered"] == first["requests"]["lost"]
    if victim == "lbbench balancer":  # the generator saw its requests die in flight
        assert first["requests"]["sent"] > 0 and failure["unanswered"] > 0
        assert any("in flight when the load was stopped" in p for p in first["problems"])
    else:  # the dead generator's requests are counted by the balancer
        assert first["requests"]["sent"] == 0 and failure["unaccounted"] > 0
        assert any("no surviving generator accounts for" in p for p in first["problems"])
    assert second["rig_failure"] is None and second["requests"]["lost"] == 0
    assert second["requests"]["sent"] > 1000, "the run went on to a full second trial"
    assert not psutil.Process().children(recursive=True), "processes left behind"
    json.dumps(scenario)  # the entry is plain JSON
