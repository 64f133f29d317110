"""grpcio's own policies measured by lbbench's generator beside lbbench's balancer.

One result set, one crash-and-recover fault (crash-recover profile: t1
killed at 2 s, restarted 3 s later), three ways of balancing: grpcio's
round_robin, grpcio's round_robin wrapped in outlier detection, and
lbbench's balancer with eject+retry. Nothing may be lost in any of them.
"""

from __future__ import annotations

from lbbench.rigs.base import run_scenario
from lbbench.rigs.live import LiveRig
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.vocabulary import OUTCOMES

WAYS = [
    ("grpc:round_robin", ("fail_fast",)),
    ("grpc:round_robin", ("eject",)),
    ("weighted_round_robin", ("eject", "retry")),
]


def test_crash_and_recover_under_grpcio_and_lbbench_loses_nothing():
    fleet = load_profile("crash-recover")
    entries = [
        run_scenario(
            Scenario(
                name=f"{strategy} {'+'.join(modes)}",
                profile=fleet,
                strategy=strategy,
                failover=modes,
                load=LoadSpec(rate=400.0, duration_s=6.0, drain_s=2.0),
            ),
            LiveRig(),
        )
        for strategy, modes in WAYS
    ]
    for entry in entries:
        requests = entry["summary"]["requests"]
        assert requests["lost"] == 0
        assert requests["sent"] == sum(requests[s] for s in OUTCOMES) > 2000
        # every answer is attributed to the target that served it
        served = sum(b["served_ok"] for b in entry["summary"]["backends"])
        assert served == requests["ok"]
        (fault,) = entry["summary"]["failover"]["faults"]
        assert fault["kind"] == "crash" and fault["target"] == "t1"
    # grpcio sees the connection reset and stops picking t1: few errors, like eject+retry
    for entry in entries:
        assert entry["summary"]["error_rate"] < 0.02, entry["name"]
    assert entries[0]["key"].startswith("crash-recover/grpc:round_robin/fail_fast/open-")
