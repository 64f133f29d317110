"""Envoy's config from a plan (``proxies.plan``), in lbbench's words mapped by
``proxies.vocabulary``: one listener (HTTP/2 cleartext) routing every call to one cluster
of the fleet's gRPC targets, and the admin endpoint on loopback."""

from __future__ import annotations

import json
from typing import Any

from lbbench.errors import ConfigError
from lbbench.proxies.plan import ProxyPlan

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
ADAPTIVE_CONCURRENCY = (
    "type.googleapis.com/envoy.extensions.filters.http.adaptive_concurrency.v3.AdaptiveConcurrency"
)
LEAST_REQUEST = (
    "type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest"
)
PREVIOUS_HOSTS = (
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
)
RETRY_ON = (
    "5xx,connect-failure,refused-stream,reset,unavailable,internal,resource-exhausted,cancelled"
)
HASH_HEADER = "lb-key"

LB_POLICY = {
    "round_robin": "ROUND_ROBIN",
    "weighted_round_robin": "ROUND_ROBIN",
    "random": "RANDOM",
    "weighted_random": "RANDOM",
    "least_connections": "LEAST_REQUEST",
    "p2c": "LEAST_REQUEST",
    "ring_hash": "RING_HASH",
    "maglev": "MAGLEV",
}


def duration(seconds: float) -> str:
    return f"{seconds:.6f}s"


def config(plan: ProxyPlan) -> str:
    """The config file's text (JSON, which Envoy reads as YAML)."""
    return json.dumps(bootstrap(plan), indent=1)


def bootstrap(plan: ProxyPlan) -> dict[str, Any]:
    route: dict[str, Any] = {"cluster": "fleet", "timeout": duration(plan.timeout_s)}
    if plan.strategy in ("ring_hash", "maglev"):
        route["hash_policy"] = [{"header": {"header_name": HASH_HEADER}}]
    setting = plan.setting
    if "retry" in plan.modes or "hedge" in plan.modes:
        policy: dict[str, Any] = {
            "retry_on": RETRY_ON,
            "retry_host_predicate": [
                {"name": "envoy.retry_host_predicates.previous_hosts",
                 "typed_config": {"@type": PREVIOUS_HOSTS}}
            ],
            "host_selection_retry_max_attempts": 5,
        }  # fmt: skip
        if "retry" in plan.modes:
            policy["num_retries"] = setting("failover.retry.max_attempts") - 1
            policy["per_try_timeout"] = duration(setting("failover.retry.per_try_timeout_s"))
            policy["retry_back_off"] = {
                "base_interval": duration(setting("failover.retry.backoff_base_s")),
                "max_interval": duration(setting("failover.retry.backoff_max_s")),
            }
        if "hedge" in plan.modes:
            policy.setdefault("num_retries", 1)
            policy["per_try_timeout"] = duration(setting("failover.hedge.delay_s"))
            route["hedge_policy"] = {"hedge_on_per_try_timeout": True}
        route["retry_policy"] = policy
    route = merged(route, plan.raw.get("route"), "balancer.envoy.route")
    listener = {
        "name": "ingress",
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": plan.listen_port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": HCM + "HttpConnectionManager",
                            "stat_prefix": "ingress",
                            "codec_type": "HTTP2",
                            "route_config": {
                                "name": "fleet",
                                "virtual_hosts": [
                                    {
                                        "name": "fleet",
                                        "domains": ["*"],
                                        "routes": [{"match": {"prefix": "/"}, "route": route}],
                                    }
                                ],
                            },
                            "http_filters": [
                                *admission_filter(plan),
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {"@type": ROUTER},
                                },
                            ],
                        },
                    }
                ]
            }
        ],
    }
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": plan.admin_port}}
        },
        "static_resources": {"listeners": [listener], "clusters": [cluster(plan)]},
    }


def admission_filter(plan: ProxyPlan) -> list[dict[str, Any]]:
    """Envoy's adaptive concurrency (a gradient controller) for lbbench's admission mode;
    its other knobs keep Envoy's defaults (docs/proxies.md says what they do)."""
    if "admission" not in plan.modes:
        return []
    limit = plan.setting("failover.admission.max_limit")
    return [
        {
            "name": "envoy.filters.http.adaptive_concurrency",
            "typed_config": {
                "@type": ADAPTIVE_CONCURRENCY,
                "gradient_controller_config": {
                    "sample_aggregate_percentile": {"value": 50},
                    "concurrency_limit_params": {
                        "max_concurrency_limit": limit,
                        "concurrency_update_interval": "0.1s",
                    },
                    "min_rtt_calc_params": {"interval": "60s", "request_count": 50},
                },
            },
        }
    ]


def cluster(plan: ProxyPlan) -> dict[str, Any]:
    setting = plan.setting
    by_tier: dict[int, list[dict[str, Any]]] = {}
    for upstream in plan.upstreams:
        tier = upstream.tier if "primary_backup" in plan.modes else 0
        by_tier.setdefault(tier, []).append(
            {
                "endpoint": {
                    "address": {
                        "socket_address": {"address": "127.0.0.1", "port_value": upstream.port}
                    }
                },
                "load_balancing_weight": upstream.weight,
            }
        )
    policy: dict[str, Any] = {}
    if "primary_backup" in plan.modes:
        over = setting("failover.primary_backup.overprovisioning")
        policy["overprovisioning_factor"] = round(over * 100)
    out: dict[str, Any] = {
        "name": "fleet",
        "type": "STATIC",
        "connect_timeout": "0.25s",
        "lb_policy": LB_POLICY[plan.strategy],
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": "fleet",
            "endpoints": [
                {"priority": tier, "lb_endpoints": endpoints}
                for tier, endpoints in sorted(by_tier.items())
            ],
            **({"policy": policy} if policy else {}),
        },
        # lbbench's own limits are far away; Envoy's defaults (1 024 requests at once,
        # 3 retries at once) would shape the run instead of the strategy
        "circuit_breakers": {"thresholds": [thresholds(plan)]},
    }
    if plan.strategy in ("least_connections", "p2c"):
        how = {"selection_method": "FULL_SCAN"} if plan.strategy == "least_connections" else {}
        del out["lb_policy"]  # FULL_SCAN is the extension's only
        out["load_balancing_policy"] = {
            "policies": [
                {
                    "typed_extension_config": {
                        "name": "envoy.load_balancing_policies.least_request",
                        "typed_config": {
                            "@type": LEAST_REQUEST,
                            "choice_count": plan.options.get("choice_count", 2),
                            **how,
                        },
                    }
                }
            ]
        }
    elif plan.strategy == "ring_hash":
        out["ring_hash_lb_config"] = {"minimum_ring_size": 1024}
    if "eject" in plan.modes:
        failures = setting("failover.eject.consecutive_failures")
        interval = duration(setting("failover.eject.heartbeat_interval_s"))
        out["outlier_detection"] = {
            "consecutive_5xx": failures,
            "consecutive_gateway_failure": failures,
            "enforcing_consecutive_gateway_failure": 100,
            "interval": interval,
            "base_ejection_time": duration(setting("failover.eject.base_ejection_s")),
            "max_ejection_time": duration(setting("failover.eject.max_ejection_s")),
            "max_ejection_percent": round(setting("failover.eject.max_ejected_fraction") * 100),
        }
        out["health_checks"] = [
            {
                "timeout": interval,
                "interval": interval,
                "unhealthy_threshold": setting("failover.eject.heartbeat_down_after"),
                "healthy_threshold": setting("failover.eject.heartbeat_up_after"),
                "grpc_health_check": {},
            }
        ]
    return merged(out, plan.raw.get("cluster"), "balancer.envoy.cluster")


def thresholds(plan: ProxyPlan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "max_connections": 100_000,
        "max_pending_requests": 100_000,
        "max_requests": 100_000,
        "max_retries": 100_000,
    }
    if "retry" in plan.modes:
        out["retry_budget"] = {
            "budget_percent": {"value": plan.setting("failover.retry.budget_ratio") * 100},
            "min_retry_concurrency": plan.setting("failover.retry.budget_min_retries"),
        }
        del out["max_retries"]  # a budget replaces the fixed limit
    return out


def merged(base: dict[str, Any], raw: Any, where: str) -> dict[str, Any]:
    """``raw`` merged into ``base``: tables key by key, anything else replaced."""
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise ConfigError(where, f"must be a table, got {raw!r}")
    out = dict(base)
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value, f"{where}.{key}")
        else:
            out[key] = value
    return out


def check_command(binary: str, path: str, run_dir: str) -> list[str]:
    return [binary, "--mode", "validate", "-c", path, "--log-level", "error"]


def run_command(binary: str, path: str, run_dir: str) -> list[str]:
    # one worker thread (a 2-core machine runs the whole rig); a base id of its own so
    # that several Envoys at once (tests in parallel) do not collide
    return [binary, "-c", path, "--concurrency", "1", "--log-level", "warning",
            "--use-dynamic-base-id", "--disable-hot-restart"]  # fmt: skip
