"""The mock target over gRPC: a shell around the target model (``core.target_model``), as
the ZeroMQ target and the simulator are, served by a grpc.aio server.

Faults map to gRPC as a client sees them: an injected error is INTERNAL;
a hanging, stalled or partitioned (drop, flap) target takes the call and
never answers, so the client's deadline gives DEADLINE_EXCEEDED; a crash
ends the process, so calls fail with UNAVAILABLE until it is back. The
standard health service (grpc.health.v1) says NOT_SERVING while the
target would not answer (hang, stall, drop, flap) and SERVING otherwise
(a slow or erroring server is still up; finding that out is the
balancer's job). Faults arrive by the ``Fault`` RPC (from the runner) or
from the profile's schedule (``--schedule``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from lbbench import protocol as p
from lbbench.core.faults import Fault, parse_command
from lbbench.core.service import Job
from lbbench.core.target_model import TargetModel
from lbbench.errors import LbbenchError
from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from lbbench.rpc.status import code_of
from lbbench.scenario.profiles import TargetSpec
from lbbench.vocabulary import ERROR

SERVICE = "lbbench.Lbbench"


class GrpcTarget(lbbench_pb2_grpc.LbbenchServicer):
    def __init__(self, spec: TargetSpec, seed: int = 0) -> None:
        self.spec = spec
        self.health = HealthServicer()
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

    async def Call(self, request: Any, context: Any) -> Any:
        key = next(self._ids)
        future = self.loop.create_future()
        # Not offered (dropped, hung): the future is never resolved and the
        # client's deadline ends the call, as with a server that went silent.
        self.model.offer(key, (future, request.payload), self.loop.time())
        try:
            ok = await future
        except asyncio.CancelledError:
            self.model.cancel(key)  # the client gave up: do not serve it from the line
            raise
        if not ok:
            await context.abort(code_of(ERROR), "injected error")
        self.served += 1
        return lbbench_pb2.CallReply(backend=self.spec.id, payload=request.payload)

    # ------------------------------------------------------------ control

    async def apply(self, command: dict[str, Any]) -> None:
        command = parse_command(command)
        if command["kind"] == "crash":
            sys.stderr.flush()
            os._exit(3)  # abrupt, as a real crash: no goodbye, connections reset
        self.model.apply(command, self.loop.time())
        await self._update_health()
        if "duration_s" in command:  # then it recovers, as a profile's fault does
            self.loop.call_later(
                command["duration_s"], lambda: asyncio.ensure_future(self.end_timed())
            )

    async def end_timed(self) -> None:
        """A fault with a duration is over (an antagonist stays: FaultState.end_timed)."""
        self.model.end_timed(self.loop.time())
        await self._update_health()

    async def _update_health(self) -> None:
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if self.model.silent
            else health_pb2.HealthCheckResponse.SERVING
        )
        for service in ("", SERVICE):
            await self.health.set(service, status)

    async def Fault(self, request: Any, context: Any) -> Any:
        try:
            await self.apply(json.loads(request.command_json))
        except (LbbenchError, ValueError, TypeError, AttributeError, RecursionError) as error:
            return lbbench_pb2.FaultReply(ok=False, error=str(error), state=self.faults.describe())
        return lbbench_pb2.FaultReply(ok=True, state=self.faults.describe())


async def _serve(
    spec: TargetSpec, bind: str, seed: int, schedule: tuple[Fault, ...], announce: Any
) -> int:
    target = GrpcTarget(spec, seed)
    server = grpc.aio.server()
    lbbench_pb2_grpc.add_LbbenchServicer_to_server(target, server)
    health_pb2_grpc.add_HealthServicer_to_server(target.health, server)
    port = server.add_insecure_port(bind)
    if port == 0:
        raise LbbenchError("--bind", f"cannot listen on {bind}")
    await server.start()
    await target._update_health()
    host = bind.rsplit(":", 1)[0]
    if announce is not None:
        announce.write(json.dumps({"id": spec.id, "pid": os.getpid(), "port": port}) + "\n")
        announce.flush()
    else:
        print(f"target {spec.id}: gRPC on {host}:{port}", file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    for fault in schedule:
        loop.call_later(fault.at_s, lambda f=fault: loop.create_task(target.apply(f.command())))
        if fault.end_s is not None:
            loop.call_later(fault.end_s, lambda: loop.create_task(target.end_timed()))
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await server.stop(grace=1.0)
    return 0


def serve(
    spec: TargetSpec,
    bind: str,
    *,
    seed: int = 0,
    schedule: tuple[Fault, ...] = (),
    announce_to: Any = None,
) -> int:
    """Serve one gRPC target in this process until SIGTERM or SIGINT."""
    return asyncio.run(_serve(spec, bind, seed, schedule, announce_to))
