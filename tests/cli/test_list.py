"""The command line: `lbbench list` and one-line usage errors."""

from __future__ import annotations

import subprocess
import sys

from lbbench.core.failover import FAILOVER
from lbbench.core.faults import FAULT_KINDS
from lbbench.core.strategies import STRATEGIES
from lbbench.scenario.profiles import list_profiles


def lbbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lbbench", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_list_shows_strategies_failover_modes_fault_kinds_and_profiles():
    done = lbbench("list")
    assert done.returncode == 0, done.stderr
    for name in [*STRATEGIES, *FAILOVER, *FAULT_KINDS, *(p.name for p in list_profiles())]:
        assert name in done.stdout


def test_an_unknown_command_is_one_line_and_exit_2():
    done = lbbench("frobnicate")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
