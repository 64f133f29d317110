"""``lbbench gateway``: gRPC clients into the ZeroMQ balancer, so they get every lbbench strategy.

A grpc.aio server for the ``Lbbench.Call`` method of the proto. Each call
goes out on one shared DEALER socket to the balancer's frontend with a
sequence number as its envelope frame (the balancer echoes the envelope),
and one reader task hands each reply to the call waiting for it. The
balancer's status becomes a gRPC status by ``lbbench.rpc.status`` (ok ->
OK, error -> INTERNAL, timeout -> DEADLINE_EXCEEDED, unavailable ->
UNAVAILABLE, overloaded -> RESOURCE_EXHAUSTED, malformed ->
INVALID_ARGUMENT).

A call the balancer does not answer within the client's deadline (or the
gateway's ``timeout_s`` when the client set none) ends DEADLINE_EXCEEDED;
its late reply is dropped when it comes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import struct
import sys
from typing import Any

import grpc
import zmq
import zmq.asyncio

from lbbench.errors import LbbenchError
from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from lbbench.rpc.status import code_of
from lbbench.vocabulary import OK, TIMEOUT

_SEQ = struct.Struct(">Q")


class Gateway(lbbench_pb2_grpc.LbbenchServicer):
    def __init__(self, balancer: str, timeout_s: float = 2.0) -> None:
        self.timeout_s = timeout_s
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDHWM, 100_000)
        self.socket.setsockopt(zmq.RCVHWM, 100_000)
        self.socket.connect(balancer)
        self._waiting: dict[bytes, asyncio.Future] = {}
        self._seq = itertools.count()
        self.late_replies = 0

    async def read_replies(self) -> None:
        while True:
            frames = await self.socket.recv_multipart()
            future = self._waiting.pop(frames[0], None) if len(frames) == 5 else None
            if future is None or future.done():
                self.late_replies += 1
                continue
            future.set_result(frames)

    async def Call(self, request: Any, context: Any) -> Any:
        seq = _SEQ.pack(next(self._seq))
        body = [request.key, request.payload] if request.key else [request.payload]
        future = asyncio.get_running_loop().create_future()
        self._waiting[seq] = future
        await self.socket.send_multipart([seq, b"", *body])
        left = context.time_remaining()
        try:
            frames = await asyncio.wait_for(future, self.timeout_s if left is None else left)
        except TimeoutError:
            self._waiting.pop(seq, None)
            await context.abort(code_of(TIMEOUT), "the balancer did not answer")
        finally:
            self._waiting.pop(seq, None)
        status = frames[2].decode(errors="replace")
        backend = frames[3].decode(errors="replace")
        if status != OK:
            code = code_of(status)
            await context.abort(code, f"balancer: {status} (backend {backend or '-'})")
        return lbbench_pb2.CallReply(backend=backend, payload=frames[4])

    async def Fault(self, request: Any, context: Any) -> Any:
        return lbbench_pb2.FaultReply(
            ok=False, error="the gateway takes no faults: use the balancer's control endpoint"
        )


async def _serve(listen: str, balancer: str, timeout_s: float, announce: Any) -> int:
    gateway = Gateway(balancer, timeout_s)
    server = grpc.aio.server()
    lbbench_pb2_grpc.add_LbbenchServicer_to_server(gateway, server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise LbbenchError("--listen", f"cannot listen on {listen}")
    await server.start()
    reader = asyncio.create_task(gateway.read_replies())
    message = {"gateway": f"{listen.rsplit(':', 1)[0]}:{port}", "pid": os.getpid()}
    if announce is not None:
        announce.write(json.dumps(message) + "\n")
        announce.flush()
    else:
        print(f"gateway: gRPC on {message['gateway']} -> balancer {balancer}", file=sys.stderr)
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await server.stop(grace=1.0)
    reader.cancel()
    gateway.socket.close(0)
    gateway.context.term()
    return 0


def serve(listen: str, balancer: str, timeout_s: float = 2.0, announce_to: Any = None) -> int:
    return asyncio.run(_serve(listen, balancer, timeout_s, announce_to))
