"""What the lbbench Locust users send, whatever the transport: pacing, tasks, routing keys."""

from __future__ import annotations

import os
import random

from locust import User, constant_pacing, task

# Seconds between one user's calls (LBBENCH_PACING_S; `lbbench locust --pacing-s` sets it).
PACING_S = float(os.environ.get("LBBENCH_PACING_S", "0.01"))
KEYS = [f"key-{i}".encode() for i in range(1000)]
_POPULARITY = [1.0 / (i + 1) for i in range(len(KEYS))]  # Zipf, s = 1: a few hot keys


def zipf_key() -> bytes:
    """A routing key, popular ones more often (for ring_hash and maglev)."""
    return random.choices(KEYS, _POPULARITY)[0]


class PacedUser(User):
    """The workload of every lbbench user: one call each ``pacing_s`` seconds, 3 in 4
    plain and 1 in 4 with a routing key. Subclasses provide ``call(name, key)``.

    The pacing is also the expected interval the recorder corrects the
    tail with (HdrHistogram's coordinated-omission correction).
    """

    abstract = True
    pacing_s = PACING_S
    wait_time = constant_pacing(PACING_S)
    timeout_s = 2.0
    payload = b"x" * 32

    def call(self, name: str, key: bytes | None = None) -> str:
        raise NotImplementedError

    @task(3)
    def plain(self) -> None:
        self.call("plain")

    @task(1)
    def keyed(self) -> None:
        self.call("keyed", key=zipf_key())
