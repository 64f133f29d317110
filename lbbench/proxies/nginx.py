"""NGINX's config from a plan (``proxies.plan``): one HTTP/2 cleartext server on loopback
passing every call (``grpc_pass``) to one upstream of the fleet's gRPC targets, one worker,
every file in the run's folder; lbbench's words mapped by ``proxies.vocabulary``."""

from __future__ import annotations

import math

from lbbench.errors import ConfigError
from lbbench.proxies.plan import ProxyPlan, raw_lines

METHOD = {
    "round_robin": "",
    "weighted_round_robin": "",
    "random": "random;",
    "weighted_random": "random;",
    "least_connections": "least_conn;",
    "p2c": "random two least_conn;",
    "ring_hash": "hash $http_lb_key consistent;",
}
NEXT_UPSTREAM = "error timeout http_500 http_502 http_503 http_504 non_idempotent"
# what the access log records of each call: which target answered, how, and how long
# (fields split by |: with a retry, $upstream_addr is "a:1, b:2")
LOG_FORMAT = "'$upstream_addr|$upstream_status|$status|$request_time'"


def seconds(value: float) -> str:
    return f"{max(1, round(value * 1000))}ms"


def config(plan: ProxyPlan) -> str:
    setting = plan.setting
    run = plan.run_dir
    retry, eject = "retry" in plan.modes, "eject" in plan.modes
    if "primary_backup" in plan.modes and len(plan.tiers) > 2:
        raise ConfigError("failover", "nginx has two tiers (servers and backup servers)")
    backup_tier = plan.tiers[-1] if "primary_backup" in plan.modes and len(plan.tiers) > 1 else -1
    if eject:
        # fail_timeout is whole seconds (NGINX reads no "ms" there)
        fail_timeout = max(1, math.ceil(setting("failover.eject.base_ejection_s")))
        fails = (
            f" max_fails={setting('failover.eject.consecutive_failures')}"
            f" fail_timeout={fail_timeout}s"
        )
    else:
        fails = " max_fails=0"  # NGINX's default (1 failure in 10 s) would eject
    if "admission" in plan.modes:  # every server at its limit: a 502 at once
        fails += f" max_conns={plan.per_server_limit}"
    upstream = ["    upstream fleet {"]
    if METHOD[plan.strategy]:
        upstream.append(f"        {METHOD[plan.strategy]}")
    for target in plan.upstreams:
        backup = " backup" if target.tier == backup_tier else ""
        upstream.append(
            f"        server 127.0.0.1:{target.port} weight={target.weight}{fails}{backup};"
        )
    upstream.append("        keepalive 64;")
    upstream += [
        "    " + line for line in raw_lines(plan.raw.get("upstream"), "balancer.nginx.upstream")
    ]
    upstream.append("    }")
    per_try = setting("failover.retry.per_try_timeout_s") if retry else plan.timeout_s
    location = [
        "        location / {",
        "            grpc_pass grpc://fleet;",
        "            grpc_connect_timeout 250ms;",
        f"            grpc_read_timeout {seconds(per_try)};",
        f"            grpc_send_timeout {seconds(plan.timeout_s)};",
    ]
    if retry or eject:  # what counts as a failure (eject) is what would be retried
        tries = setting("failover.retry.max_attempts") if retry else 1
        location += [
            f"            grpc_next_upstream {NEXT_UPSTREAM};",
            f"            grpc_next_upstream_tries {tries};",
            f"            grpc_next_upstream_timeout {seconds(plan.timeout_s)};",
        ]
    else:
        location.append("            grpc_next_upstream off;")
    location += [
        "        " + line for line in raw_lines(plan.raw.get("location"), "balancer.nginx.location")
    ]
    location.append("        }")
    lines = [
        "worker_processes 1;",
        "daemon off;",
        f"pid {run}/nginx.pid;",
        f"error_log {run}/nginx-error.log warn;",
        "events { worker_connections 8192; }",
        "http {",
        f"    log_format lbbench {LOG_FORMAT};",
        f"    access_log {run}/nginx-access.log lbbench;",
        *(f"    {kind}_temp_path {run}/{kind}-temp;"
          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        *upstream,
        "    server {",
        f"        listen 127.0.0.1:{plan.listen_port} http2;",
        # NGINX closes a client's connection after keepalive_requests (1 000) calls with a
        # GOAWAY, and calls racing that close fail UNAVAILABLE (measured: 8 in 4 468 at
        # 1 500/s, none with this line; docs/proxies.md): the generator's one connection
        # would count that against the strategy. Envoy and HAProxy keep it open.
        "        keepalive_requests 4294967295;",
        *location,
        "    }",
        "}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def check_command(binary: str, path: str, run_dir: str) -> list[str]:
    return [binary, "-t", "-q", "-p", run_dir, "-e", f"{run_dir}/nginx-error.log", "-c", path]


def run_command(binary: str, path: str, run_dir: str) -> list[str]:
    return [binary, "-p", run_dir, "-e", f"{run_dir}/nginx-error.log", "-c", path]
