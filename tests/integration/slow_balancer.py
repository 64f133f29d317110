"""``lbbench`` whose router spends LBBENCH_TEST_COST_US more CPU on every request.

Run as ``python -m tests.integration.slow_balancer balancer ...``: a real
balancer process that cannot keep up with the load a test offers, so that
what it does when it is itself the bottleneck can be tested on a machine
where the real one is faster than any load the test could generate.
"""

from __future__ import annotations

import os
import sys
import time

from lbbench.cli import main
from lbbench.core.router import Router


def add_cost(cost_s: float) -> None:
    original = Router.on_request

    def on_request(self, *args, **kwargs):
        until = time.perf_counter() + cost_s
        while time.perf_counter() < until:  # busy: the CPU a slower router would spend
            pass
        return original(self, *args, **kwargs)

    Router.on_request = on_request


if __name__ == "__main__":
    add_cost(float(os.environ["LBBENCH_TEST_COST_US"]) / 1e6)
    sys.exit(main(sys.argv[1:]))
