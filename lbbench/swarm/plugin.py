"""Wires lbbench into a Locust process: command-line options, the recorder, the tab, the result.

A locustfile calls ``install(events)`` once at import. Options (also from
the environment, as Locust does): ``--lbbench-control`` (the balancer's
control endpoint), ``--lbbench-profile`` (the fleet profile, for expected
shares and latency models in the result; by default the balancer's own
list of backends), ``--lbbench-out`` (folder for the result set; empty
for none).
"""

from __future__ import annotations

import sys
from typing import Any

from lbbench.errors import LbbenchError
from lbbench.protocol import DEFAULT_CONTROL
from lbbench.swarm.control import Control
from lbbench.swarm.recording import SwarmRecorder


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
        control = Control(options.lbbench_control)
        if environment.web_ui is not None:
            from lbbench.swarm.tab import install as install_tab

            install_tab(environment.web_ui, control, recorder)
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
                    control,
                    recorder.recorder,
                    started=recorder.started,
                    users=state["users"] or environment.runner.user_count,
                    pacing_s=pacing_s,
                    profile=options.lbbench_profile or None,
                    out=options.lbbench_out,
                    argv=sys.argv[1:],
                    run_time_s=options.run_time,
                )
            except LbbenchError as error:
                print(f"lbbench: no result set written: {error}", file=sys.stderr)
                environment.process_exit_code = 2
