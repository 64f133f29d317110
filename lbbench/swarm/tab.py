"""The Balancer tab in Locust's web UI, and the control page beside it.

Locust's web UI takes extra tabs as tables (``extended_tabs`` and
``extended_tables`` in its template arguments) whose rows ride in the
stats response it polls every two seconds (``extended_stats``): the tab
shows each backend's health, in-flight, share against its expected share
and errors, and a fleet row with Jain's index and the merged p99/p99.9.
Locust's tabs cannot hold forms, so the controls (inject a fault on a
target, switch the strategy or failover mode) live on ``/balancer``, a
page of the same web server, backed by JSON endpoints:

- ``GET /balancer/data``: the tab's data as JSON;
- ``POST /balancer/fault`` ``{"target": "t1", "kind": "slow", "factor": 10}``;
- ``POST /balancer/set`` ``{"strategy": "p2c"}`` or ``{"failover": "eject,retry"}``.

Bad input (an unknown target, fault kind or strategy) is refused by the
balancer, which changes nothing; the endpoint answers 400 with its
one-line reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lbbench.swarm.control import Control, ControlError
from lbbench.swarm.fleetview import view
from lbbench.swarm.recording import SwarmRecorder

TAB = "balancer"
COLUMNS = [
    ("backend", "Backend"),
    ("health", "Health"),
    ("inflight", "In flight"),
    ("share", "Share"),
    ("expected", "Expected share"),
    ("errors", "Errors + timeouts"),
]
PAGE = Path(__file__).with_name("balancer.html")


def tab_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        {**b, "share": f"{b['share']:.1%}", "expected": f"{b['expected']:.1%}"}
        for b in data["backends"]
    ]
    latency = data["latency_ms"]["corrected"]
    jain = data["fairness"]["jain"] if data["fairness"] else 0.0
    rows.append(
        {
            "backend": f"fleet: {data['strategy']} / {data['failover']}",
            "health": f"Jain {jain:.3f}",
            "inflight": "",
            "share": f"p99 {latency['p99']:.2f} ms",
            "expected": f"p99.9 {latency['p99.9']:.2f} ms",
            "errors": sum(
                data["requests"].get(s, 0) for s in data["requests"] if s not in ("sent", "ok")
            ),
        }
    )
    return rows


def install(web_ui: Any, control: Control, recorder: SwarmRecorder) -> None:
    from flask import jsonify, request

    web_ui.template_args["extended_tabs"] = [{"title": "Balancer", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}
    ]
    app = web_ui.app

    def data() -> dict[str, Any]:
        return view(control.ask({"cmd": "stats"}), recorder.recorder)

    @app.after_request
    def add_balancer_rows(response):
        if request.path != "/stats/requests" or not response.is_json:
            return response
        try:
            rows = tab_rows(data())
        except ControlError as error:
            rows = [{"backend": f"balancer not answering: {error}"}]
        body = response.get_json()
        body["extended_stats"] = [{"key": TAB, "data": rows}]
        response.set_data(json.dumps(body))
        return response

    @app.route("/balancer")
    def balancer_page():
        return PAGE.read_text(encoding="utf-8")

    @app.route("/balancer/data")
    def balancer_data():
        try:
            return jsonify(data())
        except ControlError as error:
            return jsonify({"ok": False, "error": str(error)}), 503

    def forward(command: dict[str, Any]):
        try:
            answer = control.ask(command)
        except ControlError as error:
            return jsonify({"ok": False, "error": str(error)}), 503
        return jsonify(answer), (200 if answer.get("ok") else 400)

    @app.route("/balancer/fault", methods=["POST"])
    def balancer_fault():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("target"), str):
            return jsonify({"ok": False, "error": 'expected {"target": ..., "kind": ...}'}), 400
        return forward({**body, "cmd": "fault"})

    @app.route("/balancer/set", methods=["POST"])
    def balancer_set():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not ({"strategy", "failover", "settings"} & set(body)):
            error = 'expected {"strategy": ...}, {"failover": ...} or {"settings": {path: value}}'
            return jsonify({"ok": False, "error": error}), 400
        return forward({**body, "cmd": "set"})
