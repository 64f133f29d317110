"""The gRPC gateway's overhead (pytest-benchmark): one call at a time, median round trip.

Three paths to a target that answers at once: a grpcio client to a gRPC
target directly; a stock ZeroMQ REQ client through the balancer to a
ZeroMQ target; and a grpcio client through the gateway and the balancer
to the same ZeroMQ target. The gateway's overhead is the third minus the
second (what gRPC clients pay to reach lbbench's strategies), and the
third against the first is gRPC-through-lbbench against gRPC direct.
Measure with: pytest tests/bench/test_gateway_overhead.py --benchmark-enable -s
"""

from __future__ import annotations

import json
import time

import grpc
import zmq

from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from tests.bench.test_balancer_throughput import (
    _median_round_trip,
    _processes,
    _spawn,
    instant_profile,  # noqa: F401 (a fixture)
)

CALLS = 2000


def _median_grpc(address: str, count: int = CALLS) -> float:
    with grpc.insecure_channel(address) as channel:
        stub = lbbench_pb2_grpc.LbbenchStub(channel)
        request = lbbench_pb2.CallRequest(payload=b"x" * 32)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            stub.Call(request, timeout=10)
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def _wait_until_served(frontend: str, timeout_s: float = 20.0) -> None:
    """Poll the balancer until the target has joined and a request comes back ok."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(frontend)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            sock.send(b"x")
            assert sock.poll(5_000), "the balancer did not answer"
            if sock.recv_multipart()[0] == b"ok":
                return
            time.sleep(0.02)  # sleep-ok: the interval of a poll bounded by its deadline
        raise AssertionError("the target never joined the balancer")
    finally:
        sock.close(0)


def test_gateway_overhead_against_direct_calls(benchmark, instant_profile):  # noqa: F811
    medians: list[tuple[float, float, float]] = []

    def three_ways():
        grpc_target = _spawn(
            "-m", "lbbench", "target", "--grpc", "--id", "t0", "--targets", str(instant_profile),
            "--bind", "127.0.0.1:0", "--announce",
        )  # fmt: skip
        balancer = _spawn(
            "-m", "lbbench", "balancer", "--announce", "--frontend", "tcp://127.0.0.1:*",
            "--backend", "tcp://127.0.0.1:*", "--control", "", "--targets", str(instant_profile),
        )  # fmt: skip
        endpoints = json.loads(balancer.stdout.readline())["balancer"]
        target = _spawn(
            "-m", "lbbench", "target", "--id", "t0", "--targets", str(instant_profile),
            "--backend", endpoints["backend"], "--announce",
        )  # fmt: skip
        gateway = _spawn(
            "-m", "lbbench", "gateway", "--listen", "127.0.0.1:0",
            "--balancer", endpoints["frontend"], "--announce",
        )  # fmt: skip
        with _processes(grpc_target, balancer, target, gateway):
            direct = f"127.0.0.1:{json.loads(grpc_target.stdout.readline())['port']}"
            through = json.loads(gateway.stdout.readline())["gateway"]
            json.loads(target.stdout.readline())
            _wait_until_served(endpoints["frontend"])
            _median_round_trip(endpoints["frontend"], 200)  # warm up every path
            _median_grpc(direct, 200)
            _median_grpc(through, 200)
            medians.append(
                (
                    _median_grpc(direct),
                    _median_round_trip(endpoints["frontend"]),
                    _median_grpc(through),
                )
            )

    benchmark.pedantic(three_ways, rounds=3 if benchmark.enabled else 1, iterations=1)
    direct = min(m[0] for m in medians)
    zmq_path = min(m[1] for m in medians)
    gateway = min(m[2] for m in medians)
    benchmark.extra_info.update(
        {
            "grpc_direct_median_us": round(direct * 1e6, 1),
            "zmq_through_balancer_median_us": round(zmq_path * 1e6, 1),
            "grpc_through_gateway_median_us": round(gateway * 1e6, 1),
            "gateway_added_median_us": round((gateway - zmq_path) * 1e6, 1),
            "gateway_over_direct_grpc": round(gateway / direct, 2),
        }
    )
    print(f"\ngateway: {benchmark.extra_info}")
    assert direct > 0 and gateway > 0
