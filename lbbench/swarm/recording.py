"""HdrHistograms and per-backend counts from Locust's request events, merged across workers.

Each Locust process keeps an lbbench ``Recorder`` fed by the request
events. A worker ships what it recorded since its last report inside
Locust's own worker report (``report_to_master``) and starts afresh; the
master adds every shipment into its recorder (``worker_report``), so the
merged histograms are exactly those of all requests (HdrHistogram
addition loses nothing), unlike Locust's own rounded response-time
buckets. The corrected histogram uses the user's pacing interval as the
expected interval (HdrHistogram's coordinated-omission correction): a
stall that held a user back is counted as the calls it prevented.
"""

from __future__ import annotations

import time
from typing import Any

from lbbench.results.recorder import Recorder, clamp_us
from lbbench.vocabulary import OUTCOMES

WIRE_KEY = "lbbench"


def report_call(
    user: Any,
    request_type: str,
    name: str,
    started: float,
    length: int,
    exception: BaseException | None,
    backend: str,
    status: str,
) -> None:
    """Fire the Locust request event of one call, with what SwarmRecorder reads in its context."""
    user.environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.perf_counter() - started) * 1e3,
        response_length=length,
        exception=exception,
        context={"backend": backend, "status": status, "pacing_s": user.pacing_s},
    )


class SwarmRecorder:
    """The run's recorder (``recorder``, merged over workers) and, once anyone takes
    windows (the /balancer page's charts, on the process with the web UI), the window's
    since the last ``take_window()``."""

    def __init__(self, events: Any) -> None:
        self.recorder = Recorder()
        self.window: Recorder | None = None
        self.started: float | None = None
        events.request.add_listener(self.on_request)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)
        events.test_start.add_listener(self.on_test_start)

    def on_test_start(self, **_: Any) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def take_window(self) -> Recorder:
        """What was recorded since the previous call (the first call: nothing)."""
        window, self.window = self.window or Recorder(), Recorder()
        return window

    def on_request(self, response_time: float, context: dict[str, Any], exception: Any, **_: Any):
        status = (context or {}).get("status") or ("ok" if exception is None else "error")
        if status not in OUTCOMES:
            status = "error"
        backend = (context or {}).get("backend", "")
        latency = clamp_us(response_time / 1e3)
        pacing = (context or {}).get("pacing_s")
        offset = time.monotonic() - (self.started or time.monotonic())
        for recorder in (self.recorder,) if self.window is None else (self.recorder, self.window):
            recorder.sent += 1
            recorder.uncorrected.record_value(latency)
            if pacing:
                recorder.corrected.record_corrected_value(latency, clamp_us(pacing))
            else:
                recorder.corrected.record_value(latency)
            recorder.outcomes[status] += 1
            recorder.count_reply(status, backend, offset)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[WIRE_KEY] = self.recorder.to_wire()
        self.recorder = Recorder()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if WIRE_KEY in data:
            shipped = Recorder.from_wire(data[WIRE_KEY])
            self.recorder.merge(shipped)
            if self.window is not None:
                self.window.merge(shipped)
