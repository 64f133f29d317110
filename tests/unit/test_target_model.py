"""The target model: what a target does, written once for the ZeroMQ target, the gRPC
target and the simulator (``lbbench.core.target_model``). Scenario tables on an injected
clock: fault commands in, what the target then does out."""

from __future__ import annotations

import pytest

from lbbench.core.faults import Fault, parse_command
from lbbench.core.latency import Latency
from lbbench.core.target_model import TargetModel
from lbbench.core.target_spec import TargetSpec

SPEC = TargetSpec("t0", capacity=1, latency=Latency("fixed", (("ms", 2.0),)))
ANTAGONIST = {"kind": "antagonist", "share_max": 0.9, "dwell_s": 100.0, "seed": 17}
END = Fault(at_s=0, target="t0", kind="slow").end_command()


def model_after(commands: list[dict]) -> tuple[TargetModel, list]:
    started: list = []
    model = TargetModel(SPEC, seed=1, start=lambda done_at, job: started.append((done_at, job)))
    for command in commands:
        model.apply(parse_command(command), now=0.0)
    return model, started


SCENARIOS = [
    # commands applied in order, then: what describe() says, heartbeats?, probe answered?
    ([], "healthy", True, True),
    ([{"kind": "slow", "factor": 2}], "slow x2", True, True),
    ([{"kind": "slow", "factor": 2}, END], "healthy", True, True),
    ([ANTAGONIST, {"kind": "slow", "factor": 2}, END], "antagonist up to 0.9 every 100s",
     True, True),
    ([ANTAGONIST, {"kind": "slow", "factor": 2}, {"kind": "recover"}], "healthy", True, True),
    ([{"kind": "drop"}], "drop", False, False),
    ([{"kind": "drop"}, END], "healthy", True, True),
    ([{"kind": "flap", "period_s": 1.0}], "flap 1s", False, False),  # at 0: the dropped half
    ([{"kind": "hang"}], "hang", True, True),  # a hung server still heartbeats and answers probes
]  # fmt: skip


@pytest.mark.parametrize(("commands", "state", "heartbeats", "probed"), SCENARIOS)
def test_fault_commands_and_what_the_target_does_then(commands, state, heartbeats, probed):
    model, _ = model_after(commands)
    assert model.describe() == state
    assert model.heartbeats(0.0) is heartbeats
    assert (model.probe(0.0) is not None) is probed


SERVICE = [
    # commands, offered work quantile, then: taken?, its service time (s), answer
    ([], 0.5, True, 0.002, True),
    ([{"kind": "slow", "factor": 3}], 0.5, True, 0.006, True),
    ([{"kind": "error_rate", "p": 1.0}], 0.5, True, 0.002, False),
    ([{"kind": "error_rate", "p": 1.0}, END], 0.5, True, 0.002, True),
    ([{"kind": "hang"}], 0.5, False, None, None),
    ([{"kind": "drop"}], 0.5, False, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("commands", "work", "taken", "service_s", "answer"), SERVICE)
def test_a_request_is_served_by_the_model_under_the_faults_in_force(
    commands, work, taken, service_s, answer
):
    model, started = model_after(commands)
    assert model.offer("a1", work, 0.0) is taken
    if not taken:
        assert started == []
        return
    [(done_at, job)] = started
    assert done_at == pytest.approx(service_s)
    assert model.finish(job, done_at) is answer


def test_errors_come_from_their_own_stream_not_the_service_times():
    """The gRPC target once drew its errors from its service-time stream: a run with an
    error rate then had other service times than the same run without."""
    spec = TargetSpec("t0", capacity=1, latency=Latency("exponential", (("mean_ms", 2.0),)))
    times = []
    for commands in ([], [{"kind": "error_rate", "p": 0.5}]):
        started: list = []
        model = TargetModel(
            spec, 1, lambda d, j, s=started: s.append((d, j)), work_of=lambda w: None
        )
        for command in commands:
            model.apply(parse_command(command), 0.0)
        now = 0.0
        for index in range(50):
            model.offer(index, None, now)
            done_at, job = started[-1]
            model.finish(job, done_at)
            now = done_at
        times.append([round(done, 12) for done, _ in started])
    assert times[0] == times[1]


def test_a_request_without_work_is_drawn_from_the_targets_own_stream():
    spec = TargetSpec("t0", capacity=1, latency=Latency("exponential", (("mean_ms", 2.0),)))
    drawn = []
    for _ in range(2):
        started: list = []
        model = TargetModel(spec, 7, lambda d, j, s=started: s.append(d), work_of=lambda w: w)
        model.offer(1, None, 0.0)  # no quantile carried: the target draws
        model.offer(2, 0.5, 0.0)  # a quantile carried: the latency model's quantile
        drawn.append(started)
    assert drawn[0] == drawn[1]  # seeded: the same draws
    assert len(drawn[0]) == 1  # capacity 1: the second waits
