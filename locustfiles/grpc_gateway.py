"""Locust users that call lbbench's gRPC gateway (and through it, the balancer).

    lbbench locust --via-gateway --targets targets/heterogeneous.toml --strategy p2c
    locust -f locustfiles/grpc_gateway.py --host 127.0.0.1:50050 --lbbench-control tcp://127.0.0.1:5557

Same tasks, pacing, recording, Balancer tab and result set as
zmq_balancer.py; the calls are gRPC.
"""

from __future__ import annotations

from locust import events

from lbbench.swarm.grpc_user import GrpcUser
from lbbench.swarm.plugin import install
from lbbench.swarm.workload import PACING_S

install(events, PACING_S)


class GatewayUser(GrpcUser):
    """The shared workload (lbbench.swarm.workload.PacedUser) over gRPC."""
