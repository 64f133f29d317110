"""Was the machine busy with other work during a trial? Noise named, not hidden.

A live trial shares the machine's cores with whatever else runs there: a
second benchmark, a build, a neighbour on the hypervisor. Any of them slows
the balancer, the targets or the generator and shows up as latency that is
not the strategy's. The watch counts, over the trial:

- the CPU the whole machine used (``/proc/stat``: busy jiffies of all cores),
- the CPU this process and everything it started used (``/proc/PID/stat``
  of the process tree, children that ended included),
- CPU stolen by the hypervisor (the ``steal`` column), and
- the kernel's CPU pressure (``/proc/pressure/cpu``, "some": the share of
  time at least one runnable task waited for a core; our own rig causes
  some of it, so it is reported, not judged).

Other work = the machine's CPU minus ours, in cores, plus steal. Above
``BUSY_CORES`` on average the trial is marked: the rig had to share.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

BUSY_CORES = 0.25  # average cores of other work (or stolen) that mark a trial
TICKS = os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, stolen) jiffies of all cores since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return user + nice + system + irq + softirq, steal


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU jiffies including reaped children) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # ended while we looked
        fields = text.rsplit(")", 1)[1].split()
        # state ppid ... utime(11) stime(12) cutime(13) cstime(14), after the name
        table[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    return table


def _tree_jiffies(root: int) -> int:
    """CPU of ``root`` and all its descendants (reaped children count in their parent)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            total += table[pid][1]
        stack.extend(children.get(pid, ()))
    return total


def _pressure_us() -> int | None:
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass(frozen=True)
class _Reading:
    wall: float
    busy: int
    steal: int
    ours: int
    pressure_us: int | None


def _read() -> _Reading:
    busy, steal = _machine_jiffies()
    return _Reading(time.monotonic(), busy, steal, _tree_jiffies(os.getpid()), _pressure_us())


class MachineWatch:
    """Start before the load, ``finish()`` after it: what else the machine did meanwhile."""

    def __init__(self) -> None:
        try:
            self._start: _Reading | None = _read()
        except (OSError, ValueError):
            self._start = None  # not Linux's /proc: nothing to say

    def finish(self) -> tuple[dict[str, float | int | None] | None, list[str]]:
        """(what was measured, problems: a line if other work shared the machine)."""
        if self._start is None:
            return None, []
        end = _read()
        start = self._start
        wall = end.wall - start.wall
        if wall <= 0:
            return None, []
        cores = os.cpu_count() or 1
        ours = (end.ours - start.ours) / TICKS / wall
        steal = (end.steal - start.steal) / TICKS / wall
        # Our tree's count and the machine's are read a moment apart: a
        # tiny negative remainder is that, not negative work.
        other = max(0.0, (end.busy - start.busy) / TICKS / wall - ours)
        pressure = None
        if start.pressure_us is not None and end.pressure_us is not None:
            pressure = (end.pressure_us - start.pressure_us) / 1e6 / wall
        measured = {
            "cores": cores,
            "rig_cores": ours,
            "other_cores": other,
            "steal_cores": steal,
            "cpu_pressure": pressure,
            "busy_threshold_cores": BUSY_CORES,
        }
        problems = []
        if other + steal > BUSY_CORES:
            problems.append(
                f"the machine was busy with other work: {other:.2f} cores used by other "
                f"processes and {steal:.2f} stolen by the hypervisor on average, "
                f"beside the rig's {ours:.2f} of {cores} (limit {BUSY_CORES} cores)"
            )
        return measured, problems
