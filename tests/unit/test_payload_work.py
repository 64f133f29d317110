"""A request's work rides in its payload: the live target serves the quantile the simulator
would draw for it, and anything else gets the target's own draw (never a crash)."""

from __future__ import annotations

import math
import struct

import pytest

from lbbench import protocol as p
from lbbench.core.latency import Latency
from lbbench.scenario.profiles import TargetSpec
from lbbench.target import Target
from lbbench.vocabulary import WORK_STEP

MARK = p.WORK_MARK


@pytest.mark.parametrize(
    ("payload", "work"),
    [
        (p.payload_with_work(0.25, 32), 0.25),
        (p.payload_with_work(0.0, 12), 0.0),  # the smallest payload that carries work
        (b"x" * 32, None),  # no mark: a payload of someone else's
        (MARK + b"\x00" * 4, None),  # too short for the quantile
        (MARK + struct.pack("<d", 1.0), None),  # outside [0, 1)
        (MARK + struct.pack("<d", -0.5), None),
        (MARK + struct.pack("<d", math.nan), None),
        (MARK + struct.pack("<d", math.inf), None),
    ],
)
def test_work_is_read_only_from_a_well_formed_payload(payload, work):
    assert p.work_of(payload) == work


def test_the_target_serves_the_carried_quantile_and_draws_otherwise():
    spec = TargetSpec("t0", latency=Latency("exponential", (("mean_ms", 2.0),)))
    target = Target(spec, None, seed=1)
    quantile = spec.latency.quantile()
    carried = target.model._service_time((0, None, b"", p.payload_with_work(0.5, 32)))
    assert carried == quantile(0.5)
    drawn = [target.model._service_time((0, None, b"", b"x" * 32)) for _ in range(1000)]
    assert len(set(drawn)) > 900 and abs(sum(drawn) / len(drawn) - 0.002) < 0.0004
    for sock in target.sockets:
        sock.close(0)


@pytest.mark.parametrize(
    ("payload", "ordinal", "work"),
    [
        (p.payload_with_work(0.25, 32), 0, 0.25),  # the first attempt: as sent
        (p.payload_with_work(0.25, 32), 1, (0.25 + WORK_STEP) % 1.0),  # a retry or hedge
        (p.payload_with_work(0.9, 32), 2, (0.9 + 2 * WORK_STEP) % 1.0),
        (b"x" * 32, 3, None),  # someone else's payload goes as it came
    ],
)
def test_each_further_attempt_of_a_request_carries_the_next_quantile(payload, ordinal, work):
    stepped = p.payload_for_attempt(payload, ordinal)
    assert len(stepped) == len(payload) and stepped[12:] == payload[12:]
    assert p.work_of(stepped) == (None if work is None else pytest.approx(work))
    if work is None:
        assert stepped == payload
