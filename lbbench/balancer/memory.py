"""The balancer's resident memory, and giving freed memory back to the system.

After a burst (a client that stopped reading its replies, a flood of
large requests) ZeroMQ and Python free what they held, but glibc keeps
the freed pages in its heap: the process stays large although nothing
uses the memory. ``Trimmer`` asks glibc to return them (``malloc_trim``)
when the resident size has grown well past what it was at start, at
most every ``every_s`` seconds, so the balancer's footprint comes back
down once hostile or careless peers are gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

GROWTH_BYTES = 32 * 1024 * 1024  # trim once the RSS is this far above the baseline
TRIM_EVERY_S = 2.0

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """This process's resident set size (Linux; 0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _malloc_trim() -> object | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim  # glibc only
    except (OSError, AttributeError):
        return None


class Trimmer:
    def __init__(self, now: float, every_s: float = TRIM_EVERY_S) -> None:
        self._trim = _malloc_trim()
        self.baseline = rss_bytes()
        self.every_s = every_s
        self._next = now + every_s
        self.trims = 0

    def tick(self, now: float) -> None:
        if self._trim is None or now < self._next:
            return
        self._next = now + self.every_s
        if rss_bytes() > self.baseline + GROWTH_BYTES:
            self._trim(0)  # type: ignore[operator]
            self.trims += 1
