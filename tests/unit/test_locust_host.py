"""A host the Locust users cannot call is refused with its reason (the start form asks)."""

from __future__ import annotations

import pytest

from lbbench.swarm.user import host_problem

HOSTS = [
    ("tcp://127.0.0.1:5555", None),
    ("tcp://[::1]:5555", None),
    ("tcp://balancer.example:5555", None),
    ("ipc:///tmp/lbbench.sock", None),
    ("tcp://127.0.0.1", "with a port from 1 to 65535"),  # the port forgotten
    ("tcp://127.0.0.1:0", "with a port from 1 to 65535"),
    ("tcp://127.0.0.1:70000", "with a port from 1 to 65535"),
    ("tcp://:5555", "with a port from 1 to 65535"),
    ("127.0.0.1:5555", "expected tcp://HOST:PORT"),  # a gRPC-style address
    ("http://127.0.0.1:5555", "expected tcp://HOST:PORT"),
    ("ipc://", "needs a path"),
    ("", "no host"),
    (None, "no host"),
]


@pytest.mark.parametrize(("host", "problem"), HOSTS)
def test_host_problem(host, problem):
    found = host_problem(host)
    if problem is None:
        assert found is None
    else:
        assert problem in found
