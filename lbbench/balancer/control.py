"""The balancer's control endpoint: JSON requests in, JSON answers out, nothing unchecked.

Commands: ``ping``, ``stats``, ``events`` (``since``: the index of the
first event wanted), ``fault`` (forwarded to a target: its kind, the kind's
parameters and ``duration_s``), ``set`` (strategy and its ``options``,
``failover`` modes, any ``settings`` by path), ``shutdown``. A request is
one frame holding one JSON object; anything else, a key a command does not
know, a value out of range, is answered ``{"ok": false, "error": "..."}``
and changes nothing. No request can make the balancer exit but
``shutdown``: a failure the checks did not foresee is answered as an error
too, and logged.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Protocol

from lbbench import protocol as p
from lbbench.core.actions import Action
from lbbench.core.config import RouterConfig, parse_failover
from lbbench.core.faults import parse_command
from lbbench.core.router import Router
from lbbench.core.settings import apply_settings
from lbbench.errors import ConfigError, LbbenchError
from lbbench.schema import convert


class Balancer(Protocol):
    """The balancer as its control endpoint sees it (``lbbench.balancer.loop.Balancer``)."""

    router: Router

    def execute(self, actions: list[Action], now: float) -> None:
        """Carry out the router's actions (a switch of strategy or modes gives some)."""

    def send_backend(self, backend_id: str, frames: list[bytes]) -> bool:
        """Send frames to a target; False when it is not connected."""

    def shut_down(self) -> None:
        """Stop at once (the ``shutdown`` command)."""

    def stats(self, now: float) -> dict[str, Any]:
        """The router's snapshot and the balancer's own counts and limits."""


COMMANDS = ("ping", "stats", "events", "fault", "set", "shutdown")
MAX_REQUEST_BYTES = 64 * 1024  # a control request is a small JSON object


def _keys(request: dict[str, Any], command: str, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(request) - {"cmd", *allowed})
    if unknown:
        known = ", ".join(allowed) or "none"
        raise ConfigError(f"{command}.{unknown[0]}", f"unknown key (known: {known})")


def parse_request(frames: list[bytes]) -> dict[str, Any]:
    """One frame of at most MAX_REQUEST_BYTES holding one JSON object, or a ConfigError."""
    if len(frames) != 1:
        raise ConfigError("control", f"a request is one frame, got {len(frames)}")
    if len(frames[0]) > MAX_REQUEST_BYTES:
        raise ConfigError("control", f"a request is at most {MAX_REQUEST_BYTES} bytes")
    try:
        request = json.loads(frames[0])
    except (ValueError, RecursionError) as error:  # RecursionError: nesting too deep
        raise ConfigError("control", f"not JSON: {str(error)[:80]}") from None
    if not isinstance(request, dict):
        raise ConfigError("control", "a request is a JSON object")
    return request


def answer(balancer: Balancer, frames: list[bytes], now: float) -> dict[str, Any]:
    """The answer to one control request."""
    try:
        request = parse_request(frames)
        command = request.get("cmd")
        if command == "ping":
            _keys(request, "ping", ())
            return {"ok": True}
        if command == "stats":
            _keys(request, "stats", ())
            return {"ok": True, **balancer.stats(now)}
        if command == "events":
            _keys(request, "events", ("since",))
            since = convert(int, request.get("since", 0), "events.since")
            if since < 0:
                raise ConfigError("events.since", f"must be >= 0, got {since}")
            events = list(balancer.router.events)[since:]
            return {"ok": True, "events": [e._asdict() for e in events]}
        if command == "fault":
            return fault(balancer, request)
        if command == "set":
            return set_settings(balancer, request, now)
        if command == "shutdown":
            _keys(request, "shutdown", ())
            balancer.shut_down()
            return {"ok": True}
        raise ConfigError("control", f"unknown command {command!r} ({', '.join(COMMANDS)})")
    except LbbenchError as error:
        return {"ok": False, "error": str(error)}
    except Exception as error:  # a gap in the checks: answered, logged, never fatal
        traceback.print_exc(file=sys.stderr)
        return {"ok": False, "error": f"control: {type(error).__name__}: {str(error)[:200]}"}


def fault(balancer: Balancer, request: dict[str, Any]) -> dict[str, Any]:
    """Forward a fault to a joined target, checked as a profile's ``[[fault]]`` would be."""
    target = request.get("target")
    state = balancer.router.backends.get(target) if isinstance(target, str) else None
    if state is None or not state.joined:
        known = ", ".join(b.id for b in balancer.router.backends.values() if b.joined)
        raise ConfigError("fault.target", f"unknown target {target!r} (known: {known})")
    command = parse_command({k: v for k, v in request.items() if k not in ("cmd", "target")})
    if not balancer.send_backend(state.id, [p.FAULT, p.encode_json(command)]):
        return {"ok": False, "error": f"fault.target: {target} is not connected"}
    return {"ok": True, "target": target, "fault": command}


MIN_LIVE_REPORT_PERIOD_S = 0.01  # load reports and heartbeats fit a target's message budget


def check_live(config: RouterConfig) -> RouterConfig:
    """Refuse what the live balancer cannot do (one line), rather than run it wrong."""
    if config.view == "reports" and config.view_period_s < MIN_LIVE_REPORT_PERIOD_S:
        raise ConfigError(
            "view_period_s",
            f"{config.view_period_s:g}: live targets post their load at most every "
            f"{MIN_LIVE_REPORT_PERIOD_S:g} s (each target's message budget, balancer.budget); "
            "the simulator takes any period",
        )
    return config


def set_settings(balancer: Balancer, request: dict[str, Any], now: float) -> dict[str, Any]:
    """Switch strategy (and its ``options``), ``failover`` modes, or any ``settings`` by path.

    Everything asked is checked before anything changes.
    """
    _keys(request, "set", ("strategy", "options", "failover", "settings"))
    settings: dict[str, Any] = {}
    if "strategy" in request:
        settings["strategy"] = request["strategy"]
        options = request.get("options", {})
        if not isinstance(options, dict):
            raise ConfigError("set.options", "must be an object of option: value")
        settings.update({f"strategy_options.{k}": v for k, v in options.items()})
    if "failover" in request:
        settings["failover.modes"] = parse_failover(str(request["failover"]), "failover")
    given = request.get("settings", {})
    if not isinstance(given, dict):
        raise ConfigError("set.settings", "must be an object of path: value")
    settings.update(given)
    config = check_live(apply_settings(balancer.router.config, settings))
    balancer.execute(balancer.router.reconfigure(now, config), now)
    return {"ok": True, "strategy": config.strategy, "failover": config.failover.label}
