"""Child processes of a rig: started with ``python -m lbbench``, logged, stopped, watched.

Every child gets SIGKILL if the parent dies (Linux), so no process outlives
a run; startup lines are read with a deadline, never by sleeping.
"""

from __future__ import annotations

import contextlib
import ctypes
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lbbench.errors import LbbenchError

READY_TIMEOUT_S = 20.0


def profile_file(profile: Any, folder: Path) -> str:
    """The scenario's fleet written as a profile file for child processes to read.

    Written every time, not taken from the profile's source: a suite may
    have built the fleet inline, synthetically, or with faults of its own.
    """
    path = folder / "profile.toml"
    path.write_text(profile.to_toml(), encoding="utf-8")
    return str(path)


# The longest a generator waits before it looks at its stop flag again (the
# rig's SIGTERM when a process the trial depends on died).
STOP_CHECK_S = 0.05


class RigError(LbbenchError):
    """The rig could not be brought up or broke mid-trial (a process died, never got
    ready, or stopped answering): that trial is lost, the run goes on."""


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """In the child: get ``sig`` if the runner dies, so no process outlives a run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG


def quit_with_parent() -> None:
    """In the child: a SIGTERM (a clean shutdown) if the parent dies."""
    die_with_parent(signal.SIGTERM)


class ChildProcess:
    """``python -m lbbench ARGS`` (or another module taking the same arguments), logging
    to ``log_dir``; dies with the runner."""

    def __init__(
        self,
        name: str,
        args: list[str],
        log_dir: Path,
        announce: bool = False,
        module: str = "lbbench",
        command: list[str] | None = None,
    ) -> None:
        """``python -m module args``, or ``command`` (a program of its own: a proxy)."""
        self.name = name
        self.args = args
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            command or [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if announce else subprocess.DEVNULL,
            stderr=self.log,
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
        )

    def read_line(self, timeout_s: float) -> str:
        line = read_line(self.popen, time.monotonic() + timeout_s)
        if line is None:
            raise RigError(self.name, f"did not start: {self.last_words()}")
        return line

    def last_words(self) -> str:
        self.log.flush()
        try:
            lines = Path(self.log.name).read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        code = self.popen.poll()
        state = f"exit code {code}" if code is not None else "still running"
        return f"{state}; {lines[-1] if lines else 'no output'}"

    def stop(self, grace_s: float = 3.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5.0)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.log.close()


def note_unplanned_exits(
    targets: dict[str, ChildProcess], planned: set[str], problems: list[str], elapsed: float
) -> None:
    """A target process that ended without a crash fault makes the trial invalid."""
    for target_id, process in targets.items():
        if process.popen.poll() is not None and target_id not in planned:
            planned.add(target_id)
            problems.append(
                f"target {target_id} exited unplanned at {elapsed:.2f} s "
                f"(exit code {process.popen.returncode})"
            )


def read_line(process: subprocess.Popen[Any], deadline: float) -> str | None:
    """One line from a child's stdout by ``deadline`` (monotonic); None if it never came.

    Polls with a short timeout so that a child that died is noticed at once.
    """
    stream = process.stdout
    assert stream is not None
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = stream.readline()
                if not line:
                    return None  # closed: the process is gone
                return line.decode() if isinstance(line, bytes) else line
            if process.poll() is not None:
                return None
        return None
    finally:
        selector.close()
