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
from the profile's schedule (``--schedule``). An error's ``signal`` other
than ``grpc-status`` needs the HTTP/2 server (``rpc.h2target``): grpcio
answers every call with an HTTP 200.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from lbbench.core.faults import Fault
from lbbench.errors import LbbenchError
from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from lbbench.rpc.shell import BACKEND_TRAILER, SERVICE, TargetShell, announce_and_wait
from lbbench.rpc.status import code_of
from lbbench.scenario.profiles import TargetSpec
from lbbench.vocabulary import ERROR


class GrpcTarget(TargetShell, lbbench_pb2_grpc.LbbenchServicer):
    def __init__(self, spec: TargetSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.health = HealthServicer()

    async def Call(self, request: Any, context: Any) -> Any:
        key, future = self.offer(request.payload)
        try:
            ok = await future
        except asyncio.CancelledError:
            self.cancel(key)
            raise
        if not ok:  # the trailers name the target, so that errors are counted per target
            context.set_trailing_metadata(((BACKEND_TRAILER, self.spec.id),))
            await context.abort(code_of(ERROR), "injected error")
        self.served += 1
        return lbbench_pb2.CallReply(backend=self.spec.id, payload=request.payload)

    async def health_changed(self) -> None:
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if self.model.silent
            else health_pb2.HealthCheckResponse.SERVING
        )
        for service in ("", SERVICE):
            await self.health.set(service, status)

    async def Fault(self, request: Any, context: Any) -> Any:
        ok, error, state = await self.fault(request.command_json)
        return lbbench_pb2.FaultReply(ok=ok, error=error, state=state)


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
    await target.health_changed()
    host = bind.rsplit(":", 1)[0]
    await announce_and_wait(target, host, port, announce, "gRPC", schedule)
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
