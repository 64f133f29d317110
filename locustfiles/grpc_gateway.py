"""Locust users that call lbbench's gRPC gateway (and through it, the balancer).

    lbbench locust --via-gateway --targets targets/heterogeneous.toml --strategy p2c
    locust -f locustfiles/grpc_gateway.py --host 127.0.0.1:50050 --lbbench-control tcp://127.0.0.1:5557

Same tasks, pacing, recording, Balancer tab and result set as
zmq_balancer.py; the calls are gRPC.
"""

from __future__ import annotations

from locust import constant_pacing, events, task

from lbbench.swarm.grpc_user import GrpcUser
from lbbench.swarm.plugin import install
from lbbench.swarm.workload import PACING_S, zipf_key

install(events, PACING_S)


class GatewayUser(GrpcUser):
    pacing_s = PACING_S
    wait_time = constant_pacing(PACING_S)

    @task(3)
    def plain(self) -> None:
        self.call("plain")

    @task(1)
    def keyed(self) -> None:
        self.call("keyed", key=zipf_key())
