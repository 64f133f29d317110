"""The gRPC target on its own HTTP/2 server (``lbbench target --grpc --h2``), called by a
grpcio client: the same service as grpcio's server, and an injected error signalled as
each fault says (a gRPC status, an HTTP 503, a reset stream, a closed connection)."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lbbench.rigs.process import READY_TIMEOUT_S, ChildProcess
from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc

TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    process = ChildProcess(
        "h2-target",
        ["target", "--grpc", "--h2", "--id", "t7", "--bind", "127.0.0.1:0", "--announce"],
        tmp_path_factory.mktemp("h2"),
        announce=True,
    )
    port = json.loads(process.read_line(READY_TIMEOUT_S))["port"]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield lbbench_pb2_grpc.LbbenchStub(channel), health_pb2_grpc.HealthStub(channel), channel
    channel.close()
    process.stop()


def fault(stub, **command) -> str:
    """Send a fault command; after a ``close`` the channel may first try the connection the
    target just dropped (UNAVAILABLE): asked again until the deadline."""
    request = lbbench_pb2.FaultRequest(command_json=json.dumps(command))
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            reply = stub.Fault(request, timeout=TIMEOUT_S, wait_for_ready=True)
            break
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
    assert reply.ok, reply.error
    return reply.state


@pytest.mark.parametrize("size", [0, 32, 200_000])  # beyond one flow-control window too
def test_a_call_is_echoed_and_names_its_target(target, size):
    stub = target[0]
    fault(stub, kind="recover")
    reply = stub.Call(lbbench_pb2.CallRequest(payload=b"x" * size), timeout=TIMEOUT_S)
    assert reply.backend == "t7" and reply.payload == b"x" * size


# the signal, the status a grpcio client sees, words in its details, the target named
SIGNALS = [
    ("grpc-status", grpc.StatusCode.INTERNAL, "injected error", True),
    # (grpcio shows nothing of a 503's headers: the client cannot tell which target)
    ("http-503", grpc.StatusCode.UNAVAILABLE, "503", False),
    ("reset", grpc.StatusCode.INTERNAL, "RST_STREAM", False),
    ("close", grpc.StatusCode.UNAVAILABLE, "", False),
]


@pytest.mark.parametrize(("signal", "code", "words", "named"), SIGNALS)
def test_an_injected_error_is_signalled_as_the_fault_says(target, signal, code, words, named):
    stub = target[0]
    state = fault(stub, kind="error_rate", p=1.0, signal=signal)
    assert "error_rate p=1" in state
    with pytest.raises(grpc.RpcError) as failed:
        stub.Call(lbbench_pb2.CallRequest(payload=b"x"), timeout=TIMEOUT_S)
    error = failed.value
    assert error.code() == code and words in error.details(), (error.code(), error.details())
    said = dict(error.trailing_metadata() or ()) or dict(error.initial_metadata() or ())
    assert (said.get("lb-backend") == "t7") == named
    fault(stub, kind="recover")
    assert stub.Call(lbbench_pb2.CallRequest(payload=b"y"), timeout=TIMEOUT_S).backend == "t7"


def test_health_follows_the_targets_silence(target):
    stub, health, _ = target
    check = health_pb2.HealthCheckRequest(service="lbbench.Lbbench")
    fault(stub, kind="recover")
    assert health.Check(check, timeout=TIMEOUT_S).status == health_pb2.HealthCheckResponse.SERVING
    fault(stub, kind="hang")
    status = health.Check(check, timeout=TIMEOUT_S).status
    fault(stub, kind="recover")
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_an_unknown_method_is_unimplemented(target):
    nope = target[2].unary_unary("/lbbench.Lbbench/Nope")
    with pytest.raises(grpc.RpcError) as failed:
        nope(b"", timeout=TIMEOUT_S)
    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED
