"""What the lbbench locustfiles' users send: their pacing and their routing keys."""

from __future__ import annotations

import os
import random

# Seconds between one user's calls (LBBENCH_PACING_S; `lbbench locust --pacing-s` sets it).
PACING_S = float(os.environ.get("LBBENCH_PACING_S", "0.01"))
KEYS = [f"key-{i}".encode() for i in range(1000)]
_POPULARITY = [1.0 / (i + 1) for i in range(len(KEYS))]  # Zipf, s = 1: a few hot keys


def zipf_key() -> bytes:
    """A routing key, popular ones more often (for ring_hash and maglev)."""
    return random.choices(KEYS, _POPULARITY)[0]
