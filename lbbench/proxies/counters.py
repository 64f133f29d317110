"""Each proxy's own counts of a trial, recorded beside lbbench's: Envoy's admin /stats
(the cluster's retries, ejections, hedges, timeouts), HAProxy's ``show stat`` (per
server: retries, redispatches, errors, status), NGINX's access log (calls, calls tried
on more than one target, the targets' statuses)."""

from __future__ import annotations

import csv
import io
import json
import socket
import urllib.request
from collections import Counter
from typing import Any

from lbbench.proxies.plan import ProxyPlan

HAPROXY_COLUMNS = (
    "status", "wretr", "wredis", "econ", "eresp", "chkfail", "chkdown", "hrsp_5xx", "stot"
)  # fmt: skip


def counters_of(plan: ProxyPlan) -> dict[str, Any]:
    if plan.proxy == "envoy":
        return envoy_counters(plan.admin_port)
    if plan.proxy == "haproxy":
        return haproxy_counters(str(plan.run_dir / "haproxy.sock"))
    return nginx_counters(str(plan.run_dir / "nginx-access.log"))


def envoy_counters(admin_port: int) -> dict[str, Any]:
    """The fleet cluster's counters that are not zero (names without the cluster prefix)."""
    url = f"http://127.0.0.1:{admin_port}/stats?format=json&filter=%5Ecluster%5C.fleet%5C."
    with urllib.request.urlopen(url, timeout=5.0) as reply:
        stats = json.load(reply)["stats"]
    prefix = "cluster.fleet."
    return {
        entry["name"][len(prefix) :]: entry["value"]
        for entry in stats
        if "name" in entry and isinstance(entry.get("value"), int) and entry["value"]
    }


def haproxy_counters(socket_path: str) -> dict[str, Any]:
    return {
        server: {column: columns.get(column, "") for column in HAPROXY_COLUMNS}
        for server, columns in haproxy_rows(socket_path).items()
    }


def haproxy_rows(socket_path: str) -> dict[str, dict[str, Any]]:
    """``show stat`` on the admin socket: every column of each server of the fleet."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5.0)
        sock.connect(socket_path)
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace").lstrip("# ")
    return {
        row["svname"]: {column: _number(value or "") for column, value in row.items() if column}
        for row in csv.DictReader(io.StringIO(text))
        if row.get("pxname") == "fleet" and row.get("svname") not in ("FRONTEND", "BACKEND")
    }


def failover_counts(proxy: str, counters: dict[str, Any]) -> dict[str, int]:
    """What a trial's failover counts (``retries``, ``ejections``) are, as far as the proxy
    counts them itself: Envoy's ``upstream_rq_retry`` and outlier detection's enforced
    ejections; HAProxy's retried connections (``wretr``) and servers marked down
    (``chkdown``), summed over the servers; NGINX's calls passed on to another target
    (it counts no ejections: none is recorded)."""
    if "unavailable" in counters:
        return {}
    if proxy == "envoy":
        return {
            "retries": int(counters.get("upstream_rq_retry", 0)),
            "ejections": int(counters.get("outlier_detection.ejections_enforced_total", 0)),
        }
    if proxy == "haproxy":
        return {
            name: sum(row[column] for row in counters.values() if isinstance(row[column], int))
            for name, column in (("retries", "wretr"), ("ejections", "chkdown"))
        }
    return {"retries": int(counters.get("passed_on", 0))}


def nginx_counters(log_path: str) -> dict[str, Any]:
    calls = tried_again = passed_on = 0
    statuses: Counter[str] = Counter()
    with open(log_path, errors="replace") as log:
        for line in log:  # $upstream_addr|$upstream_status|$status|$request_time
            parts = line.rstrip("\n").split("|")
            if len(parts) != 4:
                continue
            calls += 1
            tried_again += "," in parts[0]
            passed_on += parts[0].count(",")
            statuses[parts[2]] += 1
    return {
        "calls": calls,
        "tried_more_than_once": tried_again,
        "passed_on": passed_on,
        "statuses": dict(statuses),
    }


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text
