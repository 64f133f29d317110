"""Locust users that call the lbbench balancer over ZeroMQ.

    lbbench locust --targets targets/heterogeneous.toml --strategy p2c      # rig + Locust UI
    locust -f locustfiles/zmq_balancer.py --host tcp://127.0.0.1:5555      # a rig of your own

Two tasks: plain requests (3 in 4) and keyed requests (routing keys with
Zipf-like popularity, for ring_hash and maglev). Each user sends one call
every LBBENCH_PACING_S seconds (default 0.01: 100 calls/s per user). Add a
load shape with a second -f: locustfiles/shape_step.py, shape_spike.py or
shape_ramp.py.
"""

from __future__ import annotations

from locust import events

from lbbench.swarm.plugin import install
from lbbench.swarm.user import ZmqUser
from lbbench.swarm.workload import PACING_S

install(events, PACING_S)


class BalancerUser(ZmqUser):
    """The shared workload (lbbench.swarm.workload.PacedUser) over ZeroMQ."""
