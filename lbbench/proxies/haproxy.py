"""HAProxy's config from a plan (``proxies.plan``): one HTTP/2 cleartext frontend on
loopback, one backend of the fleet's gRPC targets (``proto h2``), the admin socket in the
run's folder; lbbench's words mapped by ``proxies.vocabulary``."""

from __future__ import annotations

from lbbench.errors import ConfigError
from lbbench.proxies.plan import ProxyPlan, raw_lines

BALANCE = {
    "round_robin": "roundrobin",
    "weighted_round_robin": "roundrobin",
    "random": "random",
    "weighted_random": "random",
    "least_connections": "leastconn",
    "p2c": "random(2)",
    "ring_hash": "hdr(lb-key)",
}
MAX_WEIGHT = 256  # HAProxy's
RETRY_ON = "conn-failure empty-response response-timeout junk-response 500 502 503 504"


def balance(plan: ProxyPlan) -> str:
    if plan.strategy == "p2c":
        return f"random({plan.options.get('choice_count', 2)})"
    return BALANCE[plan.strategy]


def ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def config(plan: ProxyPlan) -> str:
    setting = plan.setting
    retry = "retry" in plan.modes
    server_timeout = setting("failover.retry.per_try_timeout_s") if retry else plan.timeout_s
    lines = [
        "global",
        "    nbthread 1",  # one worker, as Envoy (--concurrency 1) and NGINX get
        "    maxconn 4096",  # (two file descriptors each, within a default limit)
        f"    stats socket {plan.run_dir}/haproxy.sock mode 600 level admin",
        "defaults",
        "    mode http",
        "    timeout connect 250ms",
        "    timeout client 60s",
        f"    timeout server {ms(server_timeout)}",
        "frontend ingress",
        f"    bind 127.0.0.1:{plan.listen_port} proto h2",
        "    default_backend fleet",
        "backend fleet",
        f"    balance {balance(plan)}",
    ]
    if plan.strategy == "ring_hash":
        lines.append("    hash-type consistent")
    if retry:
        lines += [
            f"    retries {setting('failover.retry.max_attempts') - 1}",
            "    option redispatch 1",
            f"    retry-on {RETRY_ON}",
        ]
    else:
        lines.append("    retries 0")
    if "primary_backup" in plan.modes and len(plan.tiers) > 2:
        raise ConfigError("failover", "haproxy has two tiers (servers and backup servers)")
    backup_tier = plan.tiers[-1] if "primary_backup" in plan.modes and len(plan.tiers) > 1 else -1
    check = ""
    if "admission" in plan.modes:
        # calls over a server's limit wait in HAProxy's queue; 1 ms there, then a 503
        lines.append("    timeout queue 1ms")
        check += f" maxconn {plan.per_server_limit}"
    if "eject" in plan.modes:
        check += (
            f" check inter {ms(setting('failover.eject.heartbeat_interval_s'))}"
            f" fall {setting('failover.eject.heartbeat_down_after')}"
            f" rise {setting('failover.eject.heartbeat_up_after')}"
            f" observe layer7 error-limit {setting('failover.eject.consecutive_failures')}"
            " on-error mark-down"
        )
    for upstream in plan.upstreams:
        if upstream.weight > MAX_WEIGHT:
            raise ConfigError(
                f"targets.{upstream.id}.weight",
                f"haproxy's weights go up to {MAX_WEIGHT}, got {upstream.weight}",
            )
        backup = " backup" if upstream.tier == backup_tier else ""
        lines.append(
            f"    server {upstream.id} 127.0.0.1:{upstream.port} proto h2"
            f" weight {upstream.weight}{backup}{check}"
        )
    lines += raw_lines(plan.raw.get("backend"), "balancer.haproxy.backend")
    return "\n".join(lines) + "\n"


def check_command(binary: str, path: str, run_dir: str) -> list[str]:
    return [binary, "-c", "-f", path]


def run_command(binary: str, path: str, run_dir: str) -> list[str]:
    return [binary, "-db", "-f", path]  # in the foreground; its messages to the rig's log
