"""grpcio's own client-side balancing as baseline strategies: ``grpc:<policy>``.

Each name becomes a gRPC service config for a channel over every target
of the fleet (``ipv4:127.0.0.1:p1,127.0.0.1:p2,...``). These are the
policies grpcio for Python (C-core) has without xDS; ``least_request``
and plain ``ring_hash`` are not among them (grpcio refuses them). The
failover modes map to what gRPC itself offers:

- ``fail_fast``: nothing added;
- ``retry``: a retry policy (up to 3 attempts, exponential backoff, on
  UNAVAILABLE, INTERNAL and RESOURCE_EXHAUSTED) with gRPC's retry
  throttling as the budget;
- ``eject``: the policy wrapped in ``outlier_detection_experimental``
  (failure-percentage ejection: 10 s base, as Envoy's defaults).

Hedging, circuit breaking and primary/backup have no client-side
equivalent in grpcio and are refused with the list of what is supported.
"""

from __future__ import annotations

import json
from typing import Any

from lbbench.errors import ConfigError
from lbbench.scenario.scenario import GRPC_PREFIX

PREFIX = GRPC_PREFIX
POLICIES: dict[str, tuple[dict[str, Any], str]] = {
    "pick_first": ({"pick_first": {}}, "every call to the first target that connects"),
    "round_robin": ({"round_robin": {}}, "each call to the next ready target"),
    "weighted_round_robin": (
        {"weighted_round_robin": {}},
        "client-side WRR from servers' ORCA load reports (none here: even)",
    ),
    "ring_hash": (
        {"ring_hash_experimental": {"requestHashHeader": "lb-key"}},
        "consistent hash of the request's routing key (ring_hash_experimental)",
    ),
}
MODES = ("fail_fast", "retry", "eject")
# ring_hash reads the key from a header only behind this switch (gRFC A76).
ENVIRONMENT = {"GRPC_EXPERIMENTAL_RING_HASH_SET_REQUEST_HASH_KEY": "true"}
SERVICE = "lbbench.Lbbench"


def policy_of(strategy: str, where: str = "--strategy") -> str:
    name = strategy[len(PREFIX) :]
    if name not in POLICIES:
        known = ", ".join(PREFIX + p for p in POLICIES)
        raise ConfigError(where, f"unknown grpc policy {name!r} (grpcio supports: {known})")
    return name


def check_scenario(strategy: str, modes: tuple[str, ...], options: tuple) -> None:
    """Raise a ConfigError unless grpcio can run this policy with these modes."""
    policy_of(strategy)
    check_modes(modes)
    if options:
        raise ConfigError("--option", "grpc: policies take no lbbench strategy options")


def check_modes(modes: tuple[str, ...], where: str = "--failover") -> None:
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(
                where,
                f"{mode} has no grpcio equivalent (for grpc: strategies: {', '.join(MODES)})",
            )


def service_config(strategy: str, modes: tuple[str, ...]) -> dict[str, Any]:
    """The service config of a channel balancing with ``strategy`` under ``modes``."""
    policy = POLICIES[policy_of(strategy)][0]
    check_modes(modes)
    if "eject" in modes:
        policy = {
            "outlier_detection_experimental": {
                "interval": "0.1s",
                "baseEjectionTime": "1s",
                "maxEjectionTime": "10s",
                "maxEjectionPercent": 50,
                "failurePercentageEjection": {
                    "threshold": 50,
                    "enforcementPercentage": 100,
                    "minimumHosts": 2,
                    "requestVolume": 5,
                },
                "childPolicy": [policy],
            }
        }
    config: dict[str, Any] = {"loadBalancingConfig": [policy]}
    if "retry" in modes:
        config["methodConfig"] = [
            {
                "name": [{"service": SERVICE}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.001s",
                    "maxBackoff": "0.05s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED"],
                },
            }
        ]
        config["retryThrottling"] = {"maxTokens": 100, "tokenRatio": 0.5}
    return config


def channel_options(strategy: str, modes: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [
        ("grpc.service_config", json.dumps(service_config(strategy, modes))),
        ("grpc.enable_retries", 1 if "retry" in modes else 0),
    ]
