"""Noise named: a trial notes when other work shared the machine, not when the rig itself is busy.

Each case burns a core for a bounded time (the burner stops by itself) in
a process that is either ours (a child: the rig's own work) or not (a
grandchild handed to init: someone else's work), while the watch runs.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lbbench.rigs.machine import BUSY_CORES, MachineWatch

BURN_S = 2.0
WATCH_S = 1.0
BURNER = f"import time\nend = time.time() + {BURN_S}\nwhile time.time() < end: pass"
# Starts the burner and exits at once: the burner is reparented, no longer ours.
ORPHANER = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {BURNER!r}])"


def _watch(burner: str | None) -> tuple[dict, list[str]]:
    process = None
    if burner == "ours":
        process = subprocess.Popen([sys.executable, "-c", BURNER])
    elif burner == "someone else's":
        subprocess.run([sys.executable, "-c", ORPHANER], check=True)
    time.sleep(0.3)  # sleep-ok: let the burner's interpreter start burning
    watch = MachineWatch()
    time.sleep(WATCH_S)  # sleep-ok: the watched interval itself
    measured, problems = watch.finish()
    if process is not None:
        process.wait(timeout=BURN_S + 5)
    time.sleep(max(0.0, BURN_S - WATCH_S))  # sleep-ok: outlive an orphaned burner
    return measured, problems


@pytest.mark.parametrize(
    ("burner", "busy"),
    [
        (None, False),  # a quiet machine (this one, between tests)
        ("ours", False),  # the rig's own work is not noise
        ("someone else's", True),  # a core of other work is
    ],
)
def test_other_work_is_named_and_the_rigs_own_is_not(burner, busy):
    measured, problems = _watch(burner)
    assert measured is not None
    if busy:
        assert measured["other_cores"] + measured["steal_cores"] > BUSY_CORES
        assert problems and "busy with other work" in problems[0]
    elif burner == "ours":
        assert measured["rig_cores"] > 0.5  # the burner counted as ours
        assert measured["other_cores"] < 0.5
    else:
        assert measured["rig_cores"] < 0.5
