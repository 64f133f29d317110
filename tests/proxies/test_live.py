"""Envoy, HAProxy and NGINX as the balancer under test, live: the same gRPC targets, faults
and open-loop generator as grpcio's policies, through the proxy (marked slow: CI's slow
stage runs them, with the three proxies installed)."""

from __future__ import annotations

import tomllib

import pytest

from lbbench.rigs.live import LiveRig
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import parse_profile
from lbbench.scenario.scenario import Scenario
from tests.proxies.helpers import PROXIES, binary_or_skip

pytestmark = pytest.mark.slow
ATTEMPTS = 3  # a busy shared machine can make a live trial invalid; measure again
BUSY = "the machine was busy with other work"

WEIGHTED = """
name = "three-one-one"
description = "3 targets, weights 3,1,1"
[defaults]
capacity = 8
latency = { dist = "exponential", mean_ms = 1.0 }
[[target]]
id = "t0"
weight = 3
[[target]]
id = "t1"
[[target]]
id = "t2"
"""
CRASH = """
name = "one-crashes"
description = "3 targets; t1 crashes at 1 s and is back 2 s later"
[defaults]
capacity = 8
latency = { dist = "exponential", mean_ms = 1.0 }
[[target]]
id = "t0"
[[target]]
id = "t1"
[[target]]
id = "t2"
[[fault]]
at_s = 1.0
target = "t1"
kind = "crash"
duration_s = 2.0
"""


def trial(proxy: str, profile: str, strategy: str, modes: tuple[str, ...]) -> dict:
    binary_or_skip(proxy)
    scenario = Scenario(
        name=f"{proxy} {strategy}",
        profile=parse_profile(tomllib.loads(profile), "test"),
        strategy=strategy,
        failover=modes,
        load=LoadSpec(rate=300.0, duration_s=4.0, drain_s=2.0),
        seed=3,
        balancer=proxy,
    )
    scenario.validate()
    for _ in range(ATTEMPTS):
        result = LiveRig().run_trial(scenario, 0)
        if result["valid"] or not all(BUSY in p for p in result["problems"]):
            return result  # valid, or invalid for a reason of its own (the test says which)
    # as the other live tests: a measurement the machine's other work spoiled says so
    pytest.skip(f"the machine was too busy for a valid live run: {result['problems']}")


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_weighted_fleet_gets_its_weights_shares_through_the_proxys_round_robin(proxy):
    result = trial(proxy, WEIGHTED, "weighted_round_robin", ("fail_fast",))
    assert result["valid"], result["problems"]
    shares = {b["id"]: b["share"] for b in result["backends"]}
    for target, weight_share in {"t0": 0.6, "t1": 0.2, "t2": 0.2}.items():
        assert abs(shares[target] - weight_share) <= 0.03, (proxy, shares)
    requests = result["requests"]
    outcomes = ("ok", "error", "timeout", "unavailable", "overloaded")
    assert requests["lost"] == 0 and sum(requests[o] for o in outcomes) == requests["sent"]


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_crash_costs_fewer_errors_with_eject_and_retry_than_failing_fast(proxy):
    fail_fast = trial(proxy, CRASH, "round_robin", ("fail_fast",))
    recovering = trial(proxy, CRASH, "round_robin", ("eject", "retry"))
    for result in (fail_fast, recovering):
        assert result["valid"], result["problems"]
    errors = {
        name: result["error_rate"]
        for name, result in (("fail_fast", fail_fast), ("eject+retry", recovering))
    }
    assert errors["fail_fast"] > 0.0 and errors["eject+retry"] < errors["fail_fast"], (
        proxy,
        errors,
    )


ERRORS = """
name = "one-errs"
description = "3 targets; t1 answers half its calls with an error, signalled as {signal}"
[defaults]
capacity = 8
latency = { dist = "exponential", mean_ms = 1.0 }
[[target]]
id = "t0"
[[target]]
id = "t1"
[[target]]
id = "t2"
[[fault]]
at_s = 0.0
target = "t1"
kind = "error_rate"
p = 0.5
signal = "{signal}"
"""
# (proxy, signal, whether it retries the error on another target): HAProxy judges HTTP
# statuses and transport errors, Envoy reads gRPC statuses too; NGINX 1.22 passes a gRPC
# call on to another server only when the first would not take it (a refused
# connection), never once it was sent (measured: "tried more than once" 0 in its log)
SEEN = [
    ("envoy", "grpc-status", True),
    ("envoy", "http-503", True),
    ("envoy", "reset", True),
    ("haproxy", "grpc-status", False),
    ("haproxy", "http-503", True),
    ("haproxy", "close", True),
    ("nginx", "grpc-status", False),
    ("nginx", "http-503", False),
    ("nginx", "reset", False),
]


@pytest.mark.parametrize(("proxy", "signal", "seen"), SEEN)
def test_a_proxy_retries_the_errors_it_can_see_and_only_those(proxy, signal, seen):
    profile = ERRORS.replace("{signal}", signal)
    result = trial(proxy, profile, "round_robin", ("retry",))
    assert result["valid"], result["problems"]
    # failing fast, a sixth of the calls would fail (half of t1's third)
    rate = result["error_rate"]
    assert (rate < 0.03) if seen else (rate > 0.10), (proxy, signal, rate)
    assert result["strategy_status"]["target_server"] == (
        "grpcio" if signal == "grpc-status" else "h2"
    )
