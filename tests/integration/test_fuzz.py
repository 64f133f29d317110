"""Fuzzing the live balancer on its three sockets with hypothesis: frontend messages from a
client, commands from a rogue peer on the backend, control requests.

Each surface gets a real rig of its own (a balancer and the uniform
profile's four targets on 127.0.0.1, p2c with eject and retry, as the
probe that found the crashes of issue 14 ran it). Throughout, the
balancer answers every client message exactly once, never exits, keeps
serving a well-formed client, and its resident memory stays within its
stated bound (``Limits.memory_bound``). The default run tries a quick
``QUICK`` cases per surface; ``-m slow`` (which CI runs) tries ``FULL``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbbench.balancer.control import COMMANDS
from lbbench.balancer.limits import Limits
from lbbench.core.faults import FAULT_KINDS
from lbbench.rigs.live import LiveProcesses
from lbbench.vocabulary import MALFORMED, OUTCOMES
from tests.integration.helpers import request, scenario

QUICK = 300
FULL = 10_000
ANSWER_WITHIN_MS = 5_000
SIZES = [pytest.param(QUICK, id="quick"), pytest.param(FULL, id="full", marks=pytest.mark.slow)]
STATUSES = {s.encode() for s in OUTCOMES}


def fuzz(cases: int, strategy: st.SearchStrategy, check: Callable[[Any], None]) -> None:
    """Run ``check`` on ``cases`` examples of ``strategy`` (no shrinking database on disk)."""

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(case: Any) -> None:
        check(case)

    one()


@pytest.fixture
def rig() -> Iterator[LiveProcesses]:
    case = scenario("uniform", "p2c", ("eject", "retry"))
    with LiveProcesses(case, seed=1, balancer_args=("--forget-after", "1")) as live:
        live.wait_ready()
        live.baseline_rss = psutil.Process(live.balancer.popen.pid).memory_info().rss
        yield live


def socket(kind: int, endpoint: str, identity: bytes | None = None) -> zmq.Socket:
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(endpoint)
    return sock


def still_standing(rig: LiveProcesses, clients: int) -> None:
    """Running, within its memory bound, and serving a well-formed client with one answer."""
    assert rig.balancer.popen.poll() is None, rig.balancer.last_words()
    rss = psutil.Process(rig.balancer.popen.pid).memory_info().rss
    assert rss - rig.baseline_rss <= Limits().memory_bound(clients)
    status, _, _ = request(rig.frontend, b"well formed", timeout_s=5.0)
    assert status in STATUSES


def served_ok_again(rig: LiveProcesses, timeout_s: float = 15.0) -> None:
    """Once the fuzzing stopped (and faults were recovered), well-formed requests get ok."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, _, payload = request(rig.frontend, b"after", timeout_s=5.0)
        if (status, payload) == (b"ok", b"after"):
            return
        assert time.monotonic() < deadline, status
        time.sleep(0.05)  # sleep-ok: the interval of a poll bounded by its deadline


# --------------------------------------------------------------------------- frontend

FRAME = st.one_of(
    st.just(b""),
    st.binary(max_size=48),
    st.sampled_from([b"REQ", b"REP", b"\x00" * 8, b"k" * 300, b"\xff" * 1000]),
)


def expected_reply(frames: list[bytes]) -> tuple[list[bytes] | None, bool]:
    """(the envelope the reply must start with, True if it must be ``malformed``)."""
    if b"" in frames:
        k = frames.index(b"")
        if 1 <= len(frames) - k - 1 <= 2:  # a body of payload, or key and payload
            return frames[: k + 1], False
    return [b""], True


@pytest.mark.parametrize("cases", SIZES)
def test_every_frontend_message_gets_exactly_one_answer(rig, cases):
    client = socket(zmq.DEALER, rig.frontend)
    sent = [0]

    def check(frames: list[bytes]) -> None:
        client.send_multipart(frames)
        sent[0] += 1
        assert client.poll(ANSWER_WITHIN_MS), f"no answer to {frames!r}"
        reply = client.recv_multipart()
        envelope, malformed = expected_reply(frames)
        assert reply[: len(envelope)] == envelope
        status = reply[len(envelope)]
        assert status == MALFORMED.encode() if malformed else status in STATUSES
        assert len(reply) == len(envelope) + 3  # status, backend, payload

    fuzz(cases, st.lists(FRAME, min_size=1, max_size=6), check)
    assert not client.poll(500), "a second answer to some message"
    stats = rig.control({"cmd": "stats"})
    assert stats["received"] == stats["answered"] >= sent[0]
    still_standing(rig, clients=2)
    client.close(0)


# --------------------------------------------------------------------------- backend

NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
    st.none(),
)
READY_META = st.one_of(
    st.dictionaries(st.sampled_from(["weight", "tier", "capacity", "x"]), NUMBER, max_size=3).map(
        lambda meta: json.dumps(meta).encode()
    ),
    st.sampled_from([b'{"weight": 1e400}', b"[" * 5000, b"\xff\xfe", b"null", b"[]"]),
    st.binary(max_size=64),
)
REP_HEADER = st.builds(
    lambda attempt, status: b"REP" + attempt + status,
    st.binary(min_size=8, max_size=8),
    st.sampled_from([b"ok", b"error", b"", b"maybe"]),
)
BACKEND_MESSAGE = st.one_of(
    st.tuples(st.just(b"READY"), READY_META).map(list),
    st.tuples(REP_HEADER, st.binary(max_size=32)).map(list),
    st.lists(
        st.one_of(
            st.sampled_from([b"HB", b"BYE", b"WHO", b"REQ", b"PROBED", b"CANCEL", b"READY"]),
            st.binary(max_size=24),
        ),
        min_size=1,
        max_size=5,
    ),
)


@pytest.mark.parametrize("cases", SIZES)
def test_no_rogue_peer_on_the_backend_crashes_the_balancer_or_strands_a_client(rig, cases):
    # Rogue peers: new ids, and one claiming a joined target's id (refused by ZeroMQ).
    rogues = [socket(zmq.DEALER, rig.endpoints["backend"], b"rogue-%d" % i) for i in range(3)]
    rogues.append(socket(zmq.DEALER, rig.endpoints["backend"], b"t0"))
    count = [0]

    def check(case: tuple[int, list[bytes]]) -> None:
        which, frames = case
        rogues[which].send_multipart(frames)
        count[0] += 1
        if count[0] % 100 == 0:  # the balancer still answers a client through all this
            still_standing(rig, clients=2)

    fuzz(cases, st.tuples(st.integers(0, len(rogues) - 1), BACKEND_MESSAGE), check)
    still_standing(rig, clients=2)
    for rogue in rogues:
        rogue.close(0)
    deadline = time.monotonic() + 10.0  # rogues that joined: forgotten after 1 s of silence
    while joined(rig) != {"t0", "t1", "t2", "t3"}:
        assert time.monotonic() < deadline, joined(rig)
        time.sleep(0.1)  # sleep-ok: the interval of a poll bounded by its deadline
    served_ok_again(rig)


def joined(rig: LiveProcesses) -> set[str]:
    return {b["id"] for b in rig.control({"cmd": "stats"})["backends"] if b["health"] != "left"}


# --------------------------------------------------------------------------- control

JSON_VALUE = st.recursive(
    st.one_of(NUMBER, st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
SAFE = tuple(c for c in COMMANDS if c != "shutdown")  # shutdown really stops it
KEYS = ["since", "target", "kind", "factor", "duration_s", "strategy", "options", "failover"]
KEYS += ["settings", "rate", "period_s", "x"]
CONTROL_OBJECT = st.fixed_dictionaries(
    {"cmd": st.one_of(st.sampled_from(SAFE), st.text(max_size=8))},
    optional={
        key: st.one_of(
            JSON_VALUE,
            st.sampled_from(["t0", "t1", "t9", *[k for k in FAULT_KINDS if k != "crash"]]),
        )
        for key in KEYS
    },
).filter(lambda r: r.get("cmd") != "shutdown" and r.get("kind") != "crash")
CONTROL_MESSAGE = st.one_of(
    CONTROL_OBJECT.map(lambda request: [json.dumps(request).encode()]),
    st.lists(st.binary(max_size=64), min_size=1, max_size=3),
    st.sampled_from([[b"[" * 60_000], [b"{" * 10], [b'{"cmd": "events", "since": 1e400}']]),
)


@pytest.mark.parametrize("cases", SIZES)
def test_every_control_request_gets_one_answer_and_none_is_fatal(rig, cases):
    control = socket(zmq.REQ, rig.endpoints["control"])

    def check(frames: list[bytes]) -> None:
        control.send_multipart(frames)
        assert control.poll(ANSWER_WITHIN_MS), f"no answer to {frames!r:.200}"
        answer = json.loads(control.recv())
        assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool)
        if not answer["ok"]:
            assert "\n" not in answer["error"]

    fuzz(cases, CONTROL_MESSAGE, check)
    control.close(0)
    still_standing(rig, clients=2)
    for target in ("t0", "t1", "t2", "t3"):  # whatever faults the fuzzing set
        rig.control({"cmd": "fault", "target": target, "kind": "recover"})
    rig.control({"cmd": "set", "strategy": "p2c", "failover": ["eject", "retry"]})
    served_ok_again(rig)
