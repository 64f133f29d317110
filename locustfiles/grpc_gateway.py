"""Locust users that call lbbench's gRPC gateway (and through it, the balancer).

    lbbench locust --via-gateway --targets targets/heterogeneous.toml --strategy p2c
    locust -f locustfiles/grpc_gateway.py --host 127.0.0.1:50050 --lbbench-control tcp://127.0.0.1:5557

Same tasks, pacing, recording, Balancer tab and result set as
zmq_balancer.py; the calls are gRPC.
"""

from __future__ import annotations

import os
import random

from locust import constant_pacing, events, task

from lbbench.swarm.grpc_user import GrpcUser
from lbbench.swarm.plugin import install

PACING_S = float(os.environ.get("LBBENCH_PACING_S", "0.01"))
KEYS = [f"key-{i}".encode() for i in range(1000)]
POPULARITY = [1.0 / (i + 1) for i in range(len(KEYS))]  # Zipf, s = 1

install(events, PACING_S)


class GatewayUser(GrpcUser):
    pacing_s = PACING_S
    wait_time = constant_pacing(PACING_S)

    @task(3)
    def plain(self) -> None:
        self.call("plain")

    @task(1)
    def keyed(self) -> None:
        self.call("keyed", key=random.choices(KEYS, POPULARITY)[0])
