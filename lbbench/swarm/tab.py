"""The Balancer tab in Locust's web UI, the /balancer page beside it, and the downloads.

Locust's web UI takes extra tabs as tables (``extended_tabs`` and
``extended_tables`` in its template arguments) whose rows ride in the
stats response it polls every two seconds (``extended_stats``): the tab
shows each backend's health, in-flight, share against its expected share
and errors, and a fleet row with Jain's index and the p99 both raw (as
Locust's Statistics tab measures it) and corrected for coordinated
omission. Locust's tabs cannot hold forms or charts, so the controls
(inject a fault on a target, switch the strategy, failover mode or any
setting) and the charts over time live on ``/balancer``, a page of the
same web server, backed by JSON endpoints:

- ``GET /balancer/data``: the tab's data as JSON;
- ``GET /balancer/history``: the samples the charts plot (``history``);
- ``POST /balancer/fault`` ``{"target": "t1", "kind": "slow", "factor": 10}``;
- ``POST /balancer/set`` ``{"strategy": "p2c"}``, ``{"failover": "eject,retry"}`` or
  ``{"settings": {"failover.retry.budget_ratio": 0.2}}``;
- ``GET /balancer/result.json`` and ``/balancer/report.html``: the run so far as an
  lbbench result set and its HTML report, also offered on Locust's download page.

Bad input (an unknown target, fault kind, strategy or setting) is refused
by the balancer, which changes nothing; the endpoint answers 400 with its
one-line reason. A host Locust's start form cannot call (``tcp://HOST``
without a port) is refused before the swarm starts, with the reason.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbbench.errors import LbbenchError
from lbbench.results.files import validate
from lbbench.swarm.control import Control, ControlError
from lbbench.swarm.fleetview import expected_shares, view
from lbbench.swarm.history import SAMPLE_S, FleetHistory
from lbbench.swarm.recording import SwarmRecorder

TAB = "balancer"
COLUMNS = [
    ("backend", "Backend"),
    ("health", "Health"),
    ("inflight", "In flight"),
    ("share", "Share"),
    ("expected", "Expected share"),
    ("errors", "Errors + timeouts"),
    ("p99_raw", "p99 ms raw (as Locust's 99%ile)"),
    ("p99_corrected", "p99 ms corrected for coordinated omission"),
]
PAGE = Path(__file__).with_name("balancer.html")
DOWNLOADS = [
    {"href": "./balancer/result.json", "title": "Download the lbbench result set (JSON)"},
    {"href": "./balancer/report.html", "title": "Download the lbbench HTML report"},
]
# Only the page's own script and style run (by a nonce made per page load);
# it talks to its own server and nothing else, and cannot be framed.
ENDPOINT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def page_policy(nonce: str) -> str:
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


SAMPLING_STATES = ("spawning", "running", "stopping")  # Locust's runner states with load


def tab_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        {**b, "share": f"{b['share']:.1%}", "expected": f"{b['expected']:.1%}"}
        for b in data["backends"]
    ]
    latency = data["latency_ms"]
    jain = data["fairness"]["jain"] if data["fairness"] else 0.0
    sent = data["requests"]["sent"]
    rows.append(
        {
            "backend": f"fleet: {data['strategy']} / {data['failover']}",
            "health": f"Jain {jain:.3f}",
            "inflight": "",
            "share": "",
            "expected": "",
            "errors": sum(
                data["requests"].get(s, 0) for s in data["requests"] if s not in ("sent", "ok")
            ),
            "p99_raw": f"{latency['uncorrected']['p99']:.2f}" if sent else "-",
            "p99_corrected": (
                f"{latency['corrected']['p99']:.2f} (p99.9 {latency['corrected']['p99.9']:.2f})"
                if sent
                else "-"
            ),
        }
    )
    return rows


def install(
    web_ui: Any,
    control: Control,
    recorder: SwarmRecorder,
    result_set: Callable[[], dict[str, Any] | None],
) -> FleetHistory:
    """Add the tab, the page, its endpoints and the downloads to Locust's web UI; start
    sampling the fleet for the charts. ``result_set()``: the run so far (None: nothing yet)."""
    import gevent
    from flask import Response, jsonify, request

    web_ui.template_args["extended_tabs"] = [{"title": "Balancer", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = DOWNLOADS
    app = web_ui.app
    environment = web_ui.environment
    history = FleetHistory()
    recorder.take_window()  # from now on the recorder keeps windows for the charts

    def since_start() -> float:
        return time.monotonic() - recorder.started if recorder.started is not None else 0.0

    def data() -> dict[str, Any]:
        return view(control.ask({"cmd": "stats"}), recorder.recorder)

    def sample_forever() -> None:
        while True:
            gevent.sleep(SAMPLE_S)
            runner = environment.runner
            if recorder.started is None or runner is None or runner.state not in SAMPLING_STATES:
                continue
            window = recorder.take_window()
            try:
                stats = control.ask({"cmd": "stats"})
            except ControlError as error:
                history.sample(since_start(), None, {}, window, str(error))
            else:
                history.sample(since_start(), stats, expected_shares(stats), window)

    gevent.spawn(sample_forever)

    @app.before_request
    def refuse_a_host_users_cannot_call():
        if request.path != "/swarm" or request.method != "POST" or "host" not in request.form:
            return None
        host = request.form["host"]
        for user_class in environment.user_classes or []:
            problem = getattr(user_class, "host_problem", None)
            reason = problem(host) if problem is not None else None
            if reason:
                return jsonify({"success": False, "message": reason, "host": environment.host})
        return None

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
        nonce = secrets.token_urlsafe(18)
        page = Response(PAGE.read_text(encoding="utf-8").replace("{{NONCE}}", nonce))
        page.headers["Content-Security-Policy"] = page_policy(nonce)
        return page

    @app.after_request
    def guard_the_endpoints(response):
        # The page sets its own policy (with its nonce); the JSON endpoints and
        # the downloads get one that runs nothing, should a browser render them.
        if request.path.startswith("/balancer/") or request.path == "/balancer":
            response.headers.setdefault("Content-Security-Policy", ENDPOINT_POLICY)
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.route("/balancer/data")
    def balancer_data():
        try:
            return jsonify(data())
        except ControlError as error:
            return jsonify({"ok": False, "error": str(error)}), 503

    @app.route("/balancer/history")
    def balancer_history():
        return jsonify(history.as_dict())

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
        response, status = forward({**body, "cmd": "fault"})
        if status == 200:
            answer = response.get_json()
            history.fault(since_start(), answer["target"], answer["fault"])
        return response, status

    @app.route("/balancer/set", methods=["POST"])
    def balancer_set():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not ({"strategy", "failover", "settings"} & set(body)):
            error = 'expected {"strategy": ...}, {"failover": ...} or {"settings": {path: value}}'
            return jsonify({"ok": False, "error": error}), 400
        return forward({**body, "cmd": "set"})

    def the_run_so_far() -> tuple[dict[str, Any] | None, Any]:
        try:
            result = result_set()
            if result is not None:
                validate(result, "the Locust run's result set")
        except (ControlError, LbbenchError) as error:
            return None, (jsonify({"ok": False, "error": str(error)}), 503)
        if result is None:
            message = "nothing recorded yet: start a swarm first"
            return None, (jsonify({"ok": False, "error": message}), 404)
        return result, None

    def attachment(body: str, mimetype: str, name: str) -> Response:
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @app.route("/balancer/result.json")
    def balancer_result():
        result, refusal = the_run_so_far()
        if result is None:
            return refusal
        body = json.dumps(result, indent=1) + "\n"
        return attachment(body, "application/json", f"{result['run_id']}.json")

    @app.route("/balancer/report.html")
    def balancer_report():
        from lbbench.results.report import render_report

        result, refusal = the_run_so_far()
        if result is None:
            return refusal
        page = render_report([(result["run_id"], result)])
        return attachment(page, "text/html", f"{result['run_id']}.html")

    return history
