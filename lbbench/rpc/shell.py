"""A target model (``core.target_model``) driven by an asyncio loop: what the two gRPC
servers share, grpcio's (``rpc.target``) and the HTTP/2 one that can signal an error as
a proxy sees it (``rpc.h2target``)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from typing import Any

from lbbench import protocol as p
from lbbench.core.faults import parse_command
from lbbench.core.service import Job
from lbbench.core.target_model import TargetModel
from lbbench.errors import LbbenchError
from lbbench.scenario.profiles import TargetSpec

SERVICE = "lbbench.Lbbench"
BACKEND_TRAILER = "lb-backend"  # names the target on every answer, errors included


class TargetShell:
    def __init__(self, spec: TargetSpec, seed: int = 0) -> None:
        self.spec = spec
        self.loop = asyncio.get_running_loop()
        # a job's work: (the call's future, its payload), which may carry its work quantile
        self.model = TargetModel(spec, seed, self._started, work_of=lambda work: p.work_of(work[1]))
        self.faults = self.model.faults
        self._ids = itertools.count()
        self.served = 0

    # ------------------------------------------------------------ service

    def _started(self, done_at: float, job: Job) -> None:
        self.loop.call_at(done_at, self._finish, job)

    def _finish(self, job: Job) -> None:
        future: asyncio.Future = job[1][0]
        ok = self.model.finish(job, self.loop.time())
        if ok is not None and not future.done():
            future.set_result(ok)

    def offer(self, payload: bytes) -> tuple[int, asyncio.Future]:
        """A call in: its key and the future its answer (ok or not) resolves. Not offered
        (dropped, hung), the future is never resolved and the client's deadline ends the
        call, as with a server that went silent."""
        key = next(self._ids)
        future = self.loop.create_future()
        self.model.offer(key, (future, payload), self.loop.time())
        return key, future

    def cancel(self, key: int) -> None:
        """The client gave up: do not serve the call from the line."""
        self.model.cancel(key)

    # ------------------------------------------------------------ control

    async def apply(self, command: dict[str, Any]) -> None:
        command = parse_command(command)
        if command["kind"] == "crash":
            sys.stderr.flush()
            os._exit(3)  # abrupt, as a real crash: no goodbye, connections reset
        self.model.apply(command, self.loop.time())
        await self.health_changed()
        if "duration_s" in command:  # then it recovers, as a profile's fault does
            self.loop.call_later(
                command["duration_s"], lambda: asyncio.ensure_future(self.end_timed())
            )

    async def end_timed(self) -> None:
        """A fault with a duration is over (an antagonist stays: FaultState.end_timed)."""
        self.model.end_timed(self.loop.time())
        await self.health_changed()

    async def health_changed(self) -> None:
        """The model's silence may have changed: the health service's answer with it."""

    async def fault(self, command_json: str) -> tuple[bool, str, str]:
        """The Fault RPC: (ok, error, the faults in force afterwards, in words)."""
        try:
            await self.apply(json.loads(command_json))
        except (LbbenchError, ValueError, TypeError, AttributeError, RecursionError) as error:
            return False, str(error), self.faults.describe()
        return True, "", self.faults.describe()

    def schedule(self, faults: tuple[Any, ...]) -> None:
        """The profile's faults for this target, on the loop's clock."""
        for fault in faults:
            self.loop.call_later(fault.at_s, self._start_fault, fault.command())
            if fault.end_s is not None:
                self.loop.call_later(fault.end_s, self._end_fault)

    def _start_fault(self, command: dict[str, Any]) -> None:
        self.loop.create_task(self.apply(command))

    def _end_fault(self) -> None:
        self.loop.create_task(self.end_timed())


async def announce_and_wait(
    target: TargetShell, host: str, port: int, announce: Any, server_kind: str, schedule: Any
) -> None:
    """Say where the target listens (a JSON line to ``announce``, else a line on stderr),
    start its profile's faults, and return at SIGTERM or SIGINT."""
    spec = target.spec
    if announce is not None:
        announce.write(json.dumps({"id": spec.id, "pid": os.getpid(), "port": port}) + "\n")
        announce.flush()
    else:
        print(f"target {spec.id}: {server_kind} on {host}:{port}", file=sys.stderr, flush=True)
    target.schedule(schedule)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        target.loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
