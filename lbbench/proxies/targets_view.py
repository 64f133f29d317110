"""What a proxy says, now, of each target: attempts, errors, requests in flight, health.

The Locust balancer page asks lbbench's balancer for these rows; with a proxy
as the balancer they come from the proxy's own live counters, read the way
each proxy offers them:

- Envoy: the admin endpoint's ``/clusters?format=json`` (per host ``rq_total``,
  ``rq_error``, ``rq_timeout``, ``rq_active``, and the outlier detector's and
  health checker's flags);
- HAProxy: ``show stat`` on its admin socket (per server ``stot``, ``scur``,
  ``hrsp_5xx`` + ``eresp`` + ``econ``, ``status``);
- NGINX (open source) has no live per-server statistics: its access log is
  read as it grows (each call's ``$upstream_addr`` and ``$upstream_status``
  name every target tried and what it answered). It has no requests-in-flight
  figure and does not show whom it has taken out: those cells say ``None`` and
  health says ``unknown``.

A user's own config template may not expose these (no admin socket, another
log): the rows then say ``unknown`` and ``problem`` says why, rather than
showing zeros as if they were measured.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lbbench.proxies.counters import haproxy_rows
from lbbench.proxies.plan import ProxyPlan

READ_TIMEOUT_S = 2.0


@dataclass
class TargetRow:
    """One target as the proxy sees it (the balancer's ``stats`` row, same keys)."""

    id: str
    weight: int
    tier: int
    health: str = "unknown"
    in_flight: int | None = None
    sent: int = 0
    errors: int = 0
    timeouts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "weight": self.weight,
            "tier": self.tier,
            "health": self.health,
            "in_flight": self.in_flight,
            "sent": self.sent,
            "ok": max(0, self.sent - self.errors - self.timeouts),
            "errors": self.errors,
            "timeouts": self.timeouts,
        }


@dataclass
class TargetsView:
    """Reads one proxy's view of its targets; ``rows()`` each time the page asks."""

    plan: ProxyPlan
    problem: str | None = None
    # NGINX: the access log read so far (its end and the counts up to it)
    _log_offset: int = 0
    _log_rows: dict[int, TargetRow] = field(default_factory=dict)

    def rows(self) -> list[TargetRow]:
        fresh = {u.port: TargetRow(u.id, u.weight, u.tier) for u in self.plan.upstreams}
        try:
            if self.plan.proxy == "envoy":
                self._envoy(fresh)
            elif self.plan.proxy == "haproxy":
                self._haproxy(fresh)
            else:
                fresh = self._nginx(fresh)
        except (OSError, ValueError, KeyError) as error:
            self.problem = f"{self.plan.proxy} did not say: {error}"
            return list(fresh.values())
        self.problem = None
        return list(fresh.values())

    def _envoy(self, rows: dict[int, TargetRow]) -> None:
        url = f"http://127.0.0.1:{self.plan.admin_port}/clusters?format=json"
        with urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as reply:
            clusters = json.load(reply)["cluster_statuses"]
        for cluster in clusters:
            if cluster.get("name") != "fleet":
                continue
            for host in cluster.get("host_statuses", []):
                row = rows.get(host["address"]["socket_address"]["port_value"])
                if row is None:
                    continue
                # zero-valued counters carry no "value" at all
                stats = {s["name"]: int(s.get("value", 0)) for s in host.get("stats", [])}
                row.sent = stats.get("rq_total", 0)
                row.errors = stats.get("rq_error", 0)
                row.timeouts = stats.get("rq_timeout", 0)
                row.in_flight = stats.get("rq_active", 0)
                row.health = envoy_health(host.get("health_status", {}))

    def _haproxy(self, rows: dict[int, TargetRow]) -> None:
        by_id = {row.id: row for row in rows.values()}
        for server, columns in haproxy_rows(str(self.plan.run_dir / "haproxy.sock")).items():
            row = by_id.get(server)
            if row is None:
                continue
            row.sent = _int(columns.get("stot"))
            row.in_flight = _int(columns.get("scur"))
            row.errors = sum(_int(columns.get(c)) for c in ("hrsp_5xx", "eresp", "econ"))
            row.health = haproxy_health(str(columns.get("status", "")))

    def _nginx(self, rows: dict[int, TargetRow]) -> dict[int, TargetRow]:
        if not self._log_rows:
            self._log_rows = rows
        path = self.plan.run_dir / "nginx-access.log"
        with open(path, "rb") as log:
            log.seek(self._log_offset)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
        self._log_offset += complete
        for line in chunk[:complete].decode(errors="replace").splitlines():
            parts = line.split("|")  # $upstream_addr|$upstream_status|$status|$request_time
            if len(parts) != 4:
                continue
            addresses = [a.strip() for a in parts[0].split(",")]
            statuses = [s.strip() for s in parts[1].split(",")]
            for address, status in zip(addresses, statuses, strict=False):
                port = address.rpartition(":")[2]
                row = self._log_rows.get(int(port)) if port.isdigit() else None
                if row is None:
                    continue
                row.sent += 1
                if status == "504":
                    row.timeouts += 1
                elif status != "200":  # a gRPC error inside an HTTP 200 is invisible here
                    row.errors += 1
        return self._log_rows


def envoy_health(status: dict[str, Any]) -> str:
    if status.get("failed_outlier_check"):
        return "ejected"
    if status.get("failed_active_health_check") or status.get("eds_health_status") not in (
        None,
        "HEALTHY",
    ):
        return "down"
    return "healthy"


def haproxy_health(status: str) -> str:
    """HAProxy's status column: UP, UP 1/3 (going down), DOWN, DOWN 1/2 (coming up), MAINT,
    no check (no health checks: it never takes a server out by itself)."""
    if status.startswith("UP") or status == "no check":
        return "healthy"
    if status.startswith("DOWN") or status.startswith("NOLB"):
        return "down"
    if status.startswith("MAINT"):
        return "left"
    return "unknown"


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
