"""The gRPC mock target: a plain grpcio client built from the proto, faults as status codes,
the standard health service, and the client-side policies grpcio really has."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from tests.integration.helpers import stop_process

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


@contextlib.contextmanager
def grpc_targets(count: int, env: dict[str, str] | None = None):
    """``count`` gRPC targets on free loopback ports; yields their ports; stops them all."""
    processes = []
    try:
        ports = []
        for index in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "lbbench", "target", "--grpc", "--id", f"t{index}",
                 "--bind", "127.0.0.1:0", "--announce"],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, **(env or {})},
            )  # fmt: skip
            processes.append(process)
            ports.append(json.loads(process.stdout.readline())["port"])
        yield ports
    finally:
        for process in processes:
            stop_process(process, timeout_s=10)
            process.stdout.close()


def stub_for(target: str, config: dict | None = None) -> tuple[grpc.Channel, object]:
    options = [("grpc.service_config", json.dumps(config))] if config else []
    channel = grpc.insecure_channel(target, options=options)
    return channel, lbbench_pb2_grpc.LbbenchStub(channel)


def fault(stub, **command) -> None:
    reply = stub.Fault(lbbench_pb2.FaultRequest(command_json=json.dumps(command)), timeout=5)
    assert reply.ok, reply.error


def test_a_plain_grpcio_client_gets_replies_and_faults_as_status_codes():
    with grpc_targets(1) as (port,):
        channel, stub = stub_for(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(channel)
        with channel:
            reply = stub.Call(lbbench_pb2.CallRequest(payload=b"hello"), timeout=5)
            assert (reply.backend, reply.payload) == ("t0", b"hello")
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == SERVING
            fault(stub, kind="error_rate", p=1.0)
            with pytest.raises(grpc.RpcError) as error:
                stub.Call(lbbench_pb2.CallRequest(payload=b"x"), timeout=5)
            assert error.value.code() == grpc.StatusCode.INTERNAL
            fault(stub, kind="hang")
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == NOT_SERVING
            with pytest.raises(grpc.RpcError) as error:
                stub.Call(lbbench_pb2.CallRequest(payload=b"x"), timeout=0.3)
            assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            fault(stub, kind="recover")
            assert stub.Call(lbbench_pb2.CallRequest(payload=b"y"), timeout=5).payload == b"y"
            bad = stub.Fault(lbbench_pb2.FaultRequest(command_json='{"kind": "melt"}'), timeout=5)
            assert not bad.ok and "unknown fault kind 'melt'" in bad.error


def test_a_crash_ends_the_process_and_calls_get_unavailable():
    with grpc_targets(1) as (port,):
        channel, stub = stub_for(f"127.0.0.1:{port}")
        with channel:
            with pytest.raises(grpc.RpcError):  # the process exits mid-call
                fault(stub, kind="crash")
            with pytest.raises(grpc.RpcError) as error:
                stub.Call(lbbench_pb2.CallRequest(payload=b"x"), timeout=2)
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE


POLICIES = [
    # loadBalancingConfig, what the spread over 3 targets and 30 calls looks like
    ({"pick_first": {}}, lambda seen: len(seen) == 1),
    # (round robin starts while subchannels are still connecting: about 10 each)
    ({"round_robin": {}}, lambda seen: len(seen) == 3 and max(seen.values()) <= 12),
    ({"weighted_round_robin": {}}, lambda seen: len(seen) == 3),
    (
        {"outlier_detection_experimental": {"childPolicy": [{"round_robin": {}}]}},
        lambda seen: len(seen) == 3 and max(seen.values()) <= 12,
    ),
    (
        {"ring_hash_experimental": {"requestHashHeader": "lb-key"}},
        lambda seen: len(seen) >= 2,  # 5 keys over 3 targets, each key sticks
    ),
]


@pytest.mark.parametrize("policy, spread", POLICIES, ids=[next(iter(p)) for p, _ in POLICIES])
def test_grpcio_client_side_policies_over_the_same_targets(policy, spread, monkeypatch):
    # ring_hash reads its key from a request header only behind this switch (gRFC A76)
    monkeypatch.setenv("GRPC_EXPERIMENTAL_RING_HASH_SET_REQUEST_HASH_KEY", "true")
    with grpc_targets(3) as ports:
        target = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)
        channel, stub = stub_for(target, {"loadBalancingConfig": [policy]})
        seen: dict[str, int] = {}
        with channel:
            for index in range(30):
                reply = stub.Call(
                    lbbench_pb2.CallRequest(payload=b"x"),
                    timeout=5,
                    metadata=[("lb-key", f"key-{index % 5}")],
                )
                seen[reply.backend] = seen.get(reply.backend, 0) + 1
        assert spread(seen), seen


@pytest.mark.parametrize("policy", ["least_request_experimental", "ring_hash", "random"])
def test_policies_grpcio_does_not_have_are_refused_by_it(policy):
    with grpc_targets(1) as (port,):
        channel, stub = stub_for(f"ipv4:127.0.0.1:{port}", {"loadBalancingConfig": [{policy: {}}]})
        with channel, pytest.raises(grpc.RpcError) as error:
            stub.Call(lbbench_pb2.CallRequest(payload=b"x"), timeout=5)
        assert "No known policies" in error.value.details()


@contextlib.contextmanager
def gateway_on_rig(tmp_path):
    """A live rig (balancer + the uniform profile's targets) and a gateway into it."""
    from lbbench.rigs.live import LiveProcesses
    from lbbench.scenario.load import LoadSpec
    from lbbench.scenario.profiles import load_profile
    from lbbench.scenario.scenario import Scenario

    scenario = Scenario("gateway", load_profile("uniform"), "round_robin", load=LoadSpec())
    with LiveProcesses(scenario, 1) as rig:
        rig.wait_ready()
        gateway = subprocess.Popen(
            [sys.executable, "-m", "lbbench", "gateway", "--listen", "127.0.0.1:0",
             "--balancer", rig.frontend, "--announce"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            address = json.loads(gateway.stdout.readline())["gateway"]
            yield rig, address
        finally:
            gateway.terminate()
            gateway.wait(timeout=10)
            gateway.stdout.close()


def test_a_plain_grpcio_client_goes_through_the_gateway_to_the_balancers_targets(tmp_path):
    with gateway_on_rig(tmp_path) as (rig, address):
        channel, stub = stub_for(address)
        with channel:
            backends = {
                stub.Call(lbbench_pb2.CallRequest(payload=b"p"), timeout=5).backend
                for _ in range(40)
            }
            assert backends == {"t0", "t1", "t2", "t3"}  # round robin behind the gateway
            keyed = {
                stub.Call(lbbench_pb2.CallRequest(payload=b"p", key=b"k1"), timeout=5).payload
                for _ in range(3)
            }
            assert keyed == {b"p"}
            # the balancer's statuses come back as gRPC codes
            for target in ("t0", "t1", "t2", "t3"):
                assert rig.control(
                    {"cmd": "fault", "target": target, "kind": "error_rate", "p": 1.0}
                )["ok"]
            with pytest.raises(grpc.RpcError) as error:
                stub.Call(lbbench_pb2.CallRequest(payload=b"p"), timeout=5)
            assert error.value.code() == grpc.StatusCode.INTERNAL
            assert "balancer: error" in error.value.details()
