"""CurveZMQ on the balancer's three sockets: only peers with authorized keys get anything.

A real rig on 127.0.0.1 with every socket keyed (``LiveProcesses(curve=...)``,
keys from ``lbbench keys``): the keyed client is served, keyed targets
join; a client or target without Curve, with a key pair the balancer was
not told about, or with the wrong balancer key gets nothing at all, not
even an error; so does a controller without keys. And a balancer refuses
to bind beyond loopback without keys.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import zmq

from lbbench.rigs.live import LiveProcesses
from lbbench.security import PeerKeys, create_keys, is_loopback
from tests.integration.helpers import scenario

SILENCE_S = 1.5  # how long a peer without the right keys is watched getting nothing


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The rig's keys, and a second set the rig knows nothing of."""
    ours, theirs = tmp_path_factory.mktemp("ours"), tmp_path_factory.mktemp("theirs")
    create_keys(ours)
    create_keys(theirs)
    return ours, theirs


@pytest.fixture(scope="module")
def rig(keys):
    with LiveProcesses(scenario("uniform", "p2c"), seed=1, curve=str(keys[0])) as live:
        live.wait_ready()  # through the keyed control socket: keyed targets joined
        yield live


def client(endpoint: str, keys: PeerKeys | None, kind: int = zmq.DEALER) -> zmq.Socket:
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.connect(sock)
    sock.connect(endpoint)
    return sock


def mixed(secret_from, server_from) -> PeerKeys:
    return PeerKeys.load(str(secret_from / "client.key_secret"), str(server_from / "balancer.key"))


# (who, their keys from (our keys, their keys), answered?)
CLIENTS = [
    ("a client with the rig's keys", lambda ours, theirs: mixed(ours, ours), True),
    ("a client without Curve", lambda ours, theirs: None, False),
    ("a client whose key is not authorized", lambda ours, theirs: mixed(theirs, ours), False),
    ("a client with the wrong balancer key", lambda ours, theirs: mixed(ours, theirs), False),
]


@pytest.mark.parametrize(("who", "make_keys", "answered"), CLIENTS)
def test_only_a_client_with_authorized_keys_is_answered(rig, keys, who, make_keys, answered):
    sock = client(rig.frontend, make_keys(*keys))
    sock.send_multipart([b"", b"hello"])
    got = sock.poll(int((5.0 if answered else SILENCE_S) * 1e3))
    assert bool(got) is answered, who
    if answered:
        _, status, _, payload = sock.recv_multipart()
        assert (status, payload) == (b"ok", b"hello")
    sock.close(0)


def test_a_controller_without_keys_cannot_even_ask_for_stats(rig):
    sock = client(rig.endpoints["control"], None, zmq.REQ)
    sock.send_json({"cmd": "shutdown"})
    assert not sock.poll(int(SILENCE_S * 1e3))
    sock.close(0)
    assert rig.control({"cmd": "ping"}) == {"ok": True}  # the keyed one still can


# (a target started with)
TARGETS = [
    ("no keys", lambda ours, theirs: []),
    (
        "a key pair the balancer does not know",
        lambda ours, theirs: [
            "--curve-secret", str(theirs / "target.key_secret"),
            "--curve-server", str(ours / "balancer.key"),
        ],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("who", "flags"), TARGETS)
def test_a_target_without_authorized_keys_never_joins(rig, keys, who, flags):
    rogue = subprocess.Popen(
        [sys.executable, "-m", "lbbench", "target", "--id", "rogue",
         "--backend", rig.endpoints["backend"], *flags(*keys)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + SILENCE_S
        while time.monotonic() < deadline:  # watched for a while: it never shows up
            ids = {b["id"] for b in rig.control({"cmd": "stats"})["backends"]}
            assert "rogue" not in ids, who
            time.sleep(0.1)  # sleep-ok: the interval of a watch bounded by its deadline
        assert rogue.poll() is None  # it was there all along, knocking
    finally:
        rogue.terminate()
        rogue.wait(timeout=10)


# (endpoint, on loopback?)
ENDPOINTS = [
    ("tcp://127.0.0.1:5555", True),
    ("tcp://127.0.0.2:*", True),
    ("tcp://localhost:5555", True),
    ("tcp://[::1]:5555", True),
    ("ipc:///tmp/lbbench.sock", True),
    ("inproc://balancer", True),
    ("tcp://0.0.0.0:5555", False),
    ("tcp://*:5555", False),
    ("tcp://eth0:5555", False),
    ("tcp://10.0.0.5:5555", False),
]


@pytest.mark.parametrize(("endpoint", "loopback"), ENDPOINTS)
def test_what_counts_as_loopback(endpoint, loopback):
    assert is_loopback(endpoint) is loopback


def test_a_balancer_without_keys_refuses_to_bind_beyond_loopback():
    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "balancer", "--frontend", "tcp://0.0.0.0:*"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--frontend: tcp://0.0.0.0:* is reachable beyond this machine" in done.stderr
    assert "--insecure" in done.stderr and "Traceback" not in done.stderr
