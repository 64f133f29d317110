"""Budgets and backoff shared by the modes that send extra attempts (retry, hedge)."""

from __future__ import annotations

import random
from collections import deque


class RetryBudget:
    """Caps extra attempts at a fraction of recent requests (Finagle RetryBudget).

    Within a sliding window of ``window_s`` (kept as ``buckets`` time slices,
    so each call is O(1) amortised) at most max(``min_retries``, ``ratio`` x
    requests) withdrawals succeed. Under a total outage the attempts per
    request therefore stay at or below 1 + ratio once traffic is past the
    minimum; the minimum lets a quiet service still retry.
    """

    __slots__ = (
        "_bucket_s",
        "_counts",
        "_current",
        "_requests",
        "_retries",
        "min_retries",
        "ratio",
    )

    def __init__(self, ratio: float, min_retries: int, window_s: float, buckets: int = 10) -> None:
        self.ratio = ratio
        self.min_retries = min_retries
        self._bucket_s = window_s / buckets
        self._counts: deque[list[int]] = deque([[0, 0]], maxlen=buckets)
        self._current = 0
        self._requests = 0
        self._retries = 0

    def _advance(self, now: float) -> None:
        index = int(now / self._bucket_s)
        if index == self._current:
            return
        steps = min(index - self._current, self._counts.maxlen or 1)
        for _ in range(max(steps, 0)):
            if len(self._counts) == self._counts.maxlen:
                old_requests, old_retries = self._counts[0]
                self._requests -= old_requests
                self._retries -= old_retries
            self._counts.append([0, 0])
        self._current = index

    def deposit(self, now: float) -> None:
        """Count one request."""
        self._advance(now)
        self._counts[-1][0] += 1
        self._requests += 1

    def withdraw(self, now: float) -> bool:
        """Spend one extra attempt if the budget allows it."""
        self._advance(now)
        if self._retries + 1 > max(self.min_retries, self.ratio * self._requests):
            return False
        self._counts[-1][1] += 1
        self._retries += 1
        return True


def jittered_backoff(rng: random.Random, retry: int, base_s: float, max_s: float) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base x 2^(retry-1))].

    Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")
    spreads retries of requests that failed together, so they do not return
    as a synchronised wave.
    """
    if base_s <= 0.0:
        return 0.0
    return rng.random() * min(max_s, base_s * (1 << min(retry - 1, 30)))
