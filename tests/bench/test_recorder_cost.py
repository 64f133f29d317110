"""What recording costs the generator per request (pytest-benchmark; measures only)."""

from __future__ import annotations

import itertools
import random

from lbbench.results.recorder import Recorder


def test_record_one_reply(benchmark):
    recorder = Recorder()
    rng = random.Random(1)
    samples = itertools.cycle([rng.expovariate(1 / 0.003) for _ in range(4096)])
    offsets = itertools.count()

    def record():
        latency = next(samples)
        recorder.record_send(0.0001)
        recorder.record_reply("ok", "t1", latency + 0.0002, latency, next(offsets) * 1e-4)

    benchmark(record)
    assert recorder.answered == recorder.sent


def test_merge_two_recorders(benchmark):
    rng = random.Random(2)
    parts = []
    for _ in range(2):
        recorder = Recorder()
        for i in range(20_000):
            latency = rng.expovariate(1 / 0.003)
            recorder.record_reply("ok", f"t{i % 4}", latency, latency, i * 1e-3)
        parts.append(recorder.to_wire())

    def merge():
        merged = Recorder.from_wire(parts[0])
        merged.merge(Recorder.from_wire(parts[1]))
        return merged

    merged = benchmark(merge)
    assert merged.corrected.get_total_count() == 40_000
