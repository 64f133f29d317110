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

import os
import random

from locust import constant_pacing, events, task

from lbbench.swarm.plugin import install
from lbbench.swarm.user import ZmqUser

PACING_S = float(os.environ.get("LBBENCH_PACING_S", "0.01"))
KEYS = [f"key-{i}".encode() for i in range(1000)]
POPULARITY = [1.0 / (i + 1) for i in range(len(KEYS))]  # Zipf, s = 1

install(events, PACING_S)


class BalancerUser(ZmqUser):
    pacing_s = PACING_S
    wait_time = constant_pacing(PACING_S)

    @task(3)
    def plain(self) -> None:
        self.call("plain")

    @task(1)
    def keyed(self) -> None:
        self.call("keyed", key=random.choices(KEYS, POPULARITY)[0])
