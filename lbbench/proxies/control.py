"""The control endpoint of a proxy under test: what the Locust balancer page and the Locust
result set ask lbbench's balancer, answered for Envoy, HAProxy or NGINX.

``lbbench locust --balancer envoy`` runs this in a thread of its own process, on a
loopback port, with the same JSON requests and answers as the balancer's control
endpoint (``lbbench.balancer.control``):

- ``stats``: the proxy's live view of each target (``targets_view``), the routing it
  runs (strategy, failover, the settings given), its own counters;
- ``events``: health changes, found by comparing the proxy's view every
  ``WATCH_S`` (an ejection, a target marked down, its return): the proxy
  announces none, so their times are known to within ``WATCH_S``;
- ``fault``: checked as the balancer checks it, then sent to the target over its
  gRPC Fault call (a crash ends the target's process; ``lbbench locust`` starts it
  again on the same port, as a supervisor would);
- ``set``: refused in one line: the proxy's routing is its config, fixed for the run.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import zmq

from lbbench.balancer.control import parse_request
from lbbench.core.actions import HealthEvent
from lbbench.core.faults import parse_command
from lbbench.errors import ConfigError, LbbenchError
from lbbench.proxies.rig import proxy_status
from lbbench.proxies.targets_view import TargetsView
from lbbench.vocabulary import Health

WATCH_S = 0.25
COMMANDS = ("ping", "stats", "events", "fault", "set")

# A health word of the page, and the event that starts and ends it.
EVENT_OF: dict[str, tuple[str, str]] = {
    "ejected": (Health.EJECT, Health.UNEJECT),
    "down": (Health.DOWN, Health.UP),
}


class ProxyControl:
    """Serves the control protocol for a ProxyFleet (a context manager: the thread stops
    and the socket closes on exit)."""

    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet
        scenario = fleet.scenario
        self.scenario = scenario
        self.view = TargetsView(fleet.proxy.plan)
        self.events: list[HealthEvent] = []
        self._health: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        port = self._socket.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self._serve, name="proxy-control", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        next_watch = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_watch:
                next_watch = now + WATCH_S
                with self._lock:
                    self._rows()  # health changes become events between questions too
            if self._socket.poll(int(WATCH_S * 1e3)):
                frames = self._socket.recv_multipart()
                with self._lock:
                    reply = self.answer(frames)
                self._socket.send_json(reply)

    def answer(self, frames: list[bytes]) -> dict[str, Any]:
        try:
            request = parse_request(frames)
            command = request.get("cmd")
            if command == "ping":
                return {"ok": True}
            if command == "stats":
                return {"ok": True, **self.stats()}
            if command == "events":
                since = request.get("since", 0)
                if not isinstance(since, int) or isinstance(since, bool) or since < 0:
                    raise ConfigError("events.since", f"must be an integer >= 0, got {since!r}")
                return {"ok": True, "events": [e._asdict() for e in self.events[since:]]}
            if command == "fault":
                return self.fault(request)
            if command == "set":
                proxy = self.scenario.proxy
                raise ConfigError(
                    "set",
                    f"{proxy}'s routing is its config, fixed for the run: start lbbench locust "
                    f"again with other --strategy, --failover or --set",
                )
            raise ConfigError("control", f"unknown command {command!r} ({', '.join(COMMANDS)})")
        except LbbenchError as error:
            return {"ok": False, "error": str(error)}

    # ------------------------------------------------------------------ answers

    def _rows(self) -> list[dict[str, Any]]:
        rows = [row.as_dict() for row in self.view.rows()]
        now = time.monotonic()
        for row in rows:
            before = self._health.get(row["id"], "healthy")
            after = row["health"]
            self._health[row["id"]] = after
            if before == after:
                continue
            if before in EVENT_OF:
                detail = f"{after} in {self.scenario.proxy}'s own view (within {WATCH_S:g} s)"
                self.events.append(HealthEvent(now, row["id"], EVENT_OF[before][1], detail))
            if after in EVENT_OF:
                detail = f"seen in {self.scenario.proxy}'s own view (within {WATCH_S:g} s)"
                self.events.append(HealthEvent(now, row["id"], EVENT_OF[after][0], detail))
        return rows

    def stats(self) -> dict[str, Any]:
        scenario = self.scenario
        rows = self._rows()
        status = proxy_status(self.fleet)
        return {
            "now": time.monotonic(),
            "balancer": scenario.balancer,
            "balancer_options": dict(scenario.balancer_options),
            "strategy": scenario.strategy,
            "failover": "+".join(scenario.failover),
            "settings": {"deadline_s": scenario.deadline_s, **dict(scenario.settings)},
            "stats": {
                "attempts": sum(row["sent"] for row in rows),
                **status["failover_counts"],
            },
            "strategy_status": {
                **status,
                **({"view_problem": self.view.problem} if self.view.problem else {}),
            },
            "backends": rows,
        }

    def fault(self, request: dict[str, Any]) -> dict[str, Any]:
        target = request.get("target")
        known = [t.id for t in self.scenario.profile.targets]
        if target not in known:
            raise ConfigError(
                "fault.target", f"unknown target {target!r} (known: {', '.join(known)})"
            )
        command = parse_command({k: v for k, v in request.items() if k not in ("cmd", "target")})
        if command["kind"] == "crash":
            self.fleet.planned_exits.add(target)
        problems = len(self.fleet.problems)
        self.fleet.send_fault(target, command)
        if len(self.fleet.problems) > problems:
            return {"ok": False, "error": self.fleet.problems.pop()}
        return {"ok": True, "target": target, "fault": command}

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        with contextlib.suppress(zmq.ZMQError):
            self._socket.close(0)
        self._context.term()

    def __enter__(self) -> ProxyControl:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
