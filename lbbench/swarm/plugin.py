"""Wires lbbench into a Locust process: command-line options, the recorder, the tab, the result.

A locustfile calls ``install(events)`` once at import. Options (also from
the environment, as Locust does): ``--lbbench-control`` (the balancer's
control endpoint), ``--lbbench-profile`` (the fleet profile, for expected
shares and latency models in the result; by default the balancer's own
list of backends), ``--lbbench-out`` (folder for the result set; empty
for none), ``--lbbench-curve`` (a folder of keys from ``lbbench keys``: the
users and the control connection use its client keys, for a balancer
that has keys; give it to every worker too).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from lbbench.errors import LbbenchError
from lbbench.protocol import DEFAULT_CONTROL
from lbbench.security import PeerKeys
from lbbench.swarm.control import Control
from lbbench.swarm.recording import SwarmRecorder


@functools.cache
def client_keys(folder: str) -> PeerKeys | None:
    """The client keys in ``folder`` (``lbbench keys``), read once per process; None: no keys."""
    return PeerKeys.from_folder(folder, "client") if folder else None


def install(events: Any, pacing_s: float) -> None:
    state: dict[str, Any] = {"users": 0}

    @events.init_command_line_parser.add_listener
    def add_options(parser: Any) -> None:
        group = parser.add_argument_group("lbbench")
        group.add_argument(
            "--lbbench-control",
            default=DEFAULT_CONTROL,
            env_var="LBBENCH_CONTROL",
            help="the balancer's control endpoint (stats, faults, strategy switches)",
        )
        group.add_argument(
            "--lbbench-profile",
            default="",
            env_var="LBBENCH_PROFILE",
            help="fleet profile of the rig (default: the backends the balancer knows)",
        )
        group.add_argument(
            "--lbbench-curve",
            default="",
            env_var="LBBENCH_CURVE",
            help="CurveZMQ: a folder of keys from `lbbench keys` (its client keys are used)",
        )
        group.add_argument(
            "--lbbench-out",
            default="results",
            env_var="LBBENCH_OUT",
            help="folder for the lbbench.run/1 result set written at the end ('' for none)",
        )

    @events.init.add_listener
    def on_init(environment: Any, **_: Any) -> None:
        from locust.runners import WorkerRunner

        options = environment.parsed_options
        recorder = SwarmRecorder(environment.events)
        keys = client_keys(options.lbbench_curve)
        control = Control(options.lbbench_control, keys=keys)

        def the_run() -> dict[str, Any]:
            """What a result set of this run needs besides the recorder and the balancer."""
            return {
                "started": recorder.started,
                "users": state["users"] or environment.runner.user_count,
                "pacing_s": pacing_s,
                "profile": options.lbbench_profile or None,
                "argv": sys.argv[1:],
                "run_time_s": options.run_time,
            }

        def result_so_far() -> dict[str, Any] | None:
            from lbbench.swarm.result import locust_result_set

            if recorder.started is None or not recorder.recorder.sent:
                return None
            return locust_result_set(control, recorder.recorder, **the_run())

        if environment.web_ui is not None:
            from lbbench.swarm.tab import install as install_tab

            install_tab(environment.web_ui, control, recorder, result_so_far)
        if isinstance(environment.runner, WorkerRunner):
            return

        @environment.events.spawning_complete.add_listener
        def on_spawned(user_count: int, **_: Any) -> None:
            state["users"] = max(state["users"], user_count)

        @environment.events.quitting.add_listener
        def on_quitting(environment: Any, **_: Any) -> None:
            if not options.lbbench_out or recorder.started is None or not recorder.recorder.sent:
                return
            from lbbench.swarm.result import write_locust_result

            try:
                write_locust_result(
                    control, recorder.recorder, out=options.lbbench_out, **the_run()
                )
            except LbbenchError as error:
                print(f"lbbench: no result set written: {error}", file=sys.stderr)
                environment.process_exit_code = 2
