"""The mock target over gRPC on a plain HTTP/2 server (the h2 library), for faults a proxy
must be able to see: an injected error signalled as a gRPC status inside an HTTP 200 (as
grpcio's server does), an HTTP 503, the call's stream reset (RST_STREAM), or its whole
connection closed (``error_rate``'s ``signal``; ``core.faults.SIGNALS``).

grpcio's server answers every call with an HTTP 200, and HAProxy and NGINX judge HTTP
statuses and transport errors only: to them an error inside a 200 is a success. This
server speaks the same service (``lbbench.Lbbench``: Call and Fault, and the standard
health check ``grpc.health.v1.Health/Check``; unary calls only) over the same target
model (``rpc.shell``), and chooses the signal per error. The rigs start it instead of
grpcio's server for a fleet whose faults ask for a signal grpcio cannot give.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

from grpc_health.v1 import health_pb2
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import H2Error

from lbbench.core.faults import Fault
from lbbench.errors import LbbenchError
from lbbench.rpc import lbbench_pb2
from lbbench.rpc.shell import BACKEND_TRAILER, SERVICE, TargetShell, announce_and_wait
from lbbench.scenario.profiles import TargetSpec

GRPC_INTERNAL = 13
GRPC_UNIMPLEMENTED = 12
GRPC_INVALID_ARGUMENT = 3
MAX_MESSAGE = 4 * 1024 * 1024  # as grpcio's default


def frame(message: bytes) -> bytes:
    """A gRPC message on the wire: not compressed, its length, itself."""
    return struct.pack(">BI", 0, len(message)) + message


def unframe(data: bytes) -> bytes | None:
    """The one message of a unary call's body, or None when it is not exactly one."""
    if len(data) < 5:
        return None
    compressed, length = struct.unpack(">BI", data[:5])
    if compressed or length != len(data) - 5:
        return None
    return data[5:]


class H2Target(TargetShell):
    """The target model behind an HTTP/2 server that signals errors as told."""

    def __init__(self, spec: TargetSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.backend = spec.id.encode()

    def health(self) -> int:
        return (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if self.model.silent
            else health_pb2.HealthCheckResponse.SERVING
        )


class _Stream:
    __slots__ = ("body", "key", "path", "task")

    def __init__(self, path: bytes) -> None:
        self.path = path
        self.body = bytearray()
        self.key: int | None = None
        self.task: asyncio.Task | None = None


class CallConnection(asyncio.Protocol):
    """One client connection (a proxy's, or a gRPC channel's)."""

    def __init__(self, target: H2Target) -> None:
        self.target = target
        self.conn = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        self.streams: dict[int, _Stream] = {}
        self.waiting: dict[int, bytes] = {}  # data held until the peer's window opens
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.conn.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except H2Error:
            self._close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                headers = dict(event.headers)
                self.streams[event.stream_id] = _Stream(headers.get(b":path", b""))
            elif isinstance(event, DataReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None and len(stream.body) + len(event.data) <= MAX_MESSAGE + 5:
                    stream.body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.task = asyncio.ensure_future(self._answer(event.stream_id, stream))
            elif isinstance(event, StreamReset):  # the client gave up on the call
                self._forget(event.stream_id)
            elif isinstance(event, WindowUpdated):
                self._send_waiting()
            elif isinstance(event, ConnectionTerminated):
                self._close()
                return
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        for stream_id in list(self.streams):
            self._forget(stream_id)

    # ------------------------------------------------------------ calls

    async def _answer(self, stream_id: int, stream: _Stream) -> None:
        message = unframe(bytes(stream.body))
        target = self.target
        if message is None:
            self._grpc_error(stream_id, GRPC_INVALID_ARGUMENT, "one uncompressed message")
            return
        path = stream.path.decode(errors="replace")
        if path == f"/{SERVICE}/Call":
            request = lbbench_pb2.CallRequest.FromString(message)
            stream.key, future = target.offer(request.payload)
            ok = await future
            if not ok:
                self._signal_error(stream_id)
                return
            target.served += 1
            reply = lbbench_pb2.CallReply(backend=target.spec.id, payload=request.payload)
            self._grpc_reply(stream_id, reply.SerializeToString())
        elif path == f"/{SERVICE}/Fault":
            command = lbbench_pb2.FaultRequest.FromString(message).command_json
            ok, error, state = await target.fault(command)
            answer = lbbench_pb2.FaultReply(ok=ok, error=error, state=state)
            self._grpc_reply(stream_id, answer.SerializeToString())
        elif path == "/grpc.health.v1.Health/Check":
            answer = health_pb2.HealthCheckResponse(status=target.health())
            self._grpc_reply(stream_id, answer.SerializeToString())
        else:
            self._grpc_error(stream_id, GRPC_UNIMPLEMENTED, f"no method {path}")

    def _signal_error(self, stream_id: int) -> None:
        """An injected error, signalled the way the fault in force says."""
        how = self.target.faults.error_signal
        if how == "http-503":
            self._send_headers(
                stream_id, [(b":status", b"503"), (BACKEND_TRAILER.encode(), self.target.backend)],
                end=True,
            )  # fmt: skip
        elif how == "reset":
            self._reset(stream_id)
        elif how == "close":
            self._close()
        else:
            self._grpc_error(stream_id, GRPC_INTERNAL, "injected error")

    def _grpc_reply(self, stream_id: int, message: bytes) -> None:
        if not self._send_headers(
            stream_id, [(b":status", b"200"), (b"content-type", b"application/grpc")]
        ):
            return  # fmt: skip
        self.waiting[stream_id] = frame(message)
        self._send_waiting()

    def _grpc_error(self, stream_id: int, code: int, words: str) -> None:
        self._send_headers(
            stream_id,
            [
                (b":status", b"200"),
                (b"content-type", b"application/grpc"),
                (b"grpc-status", str(code).encode()),
                (b"grpc-message", words.encode()),
                (BACKEND_TRAILER.encode(), self.target.backend),
            ],
            end=True,
        )

    # ------------------------------------------------------------ HTTP/2

    def _send_headers(self, stream_id: int, headers: list, end: bool = False) -> bool:
        try:
            self.conn.send_headers(stream_id, headers, end_stream=end)
        except H2Error:  # the stream is gone (reset by the client, or the connection)
            self._forget(stream_id)
            return False
        if end:
            self.streams.pop(stream_id, None)
        self._flush()
        return True

    def _send_waiting(self) -> None:
        """Each reply's data as far as the peer's windows allow, then its trailers."""
        for stream_id, data in list(self.waiting.items()):
            try:
                window = min(self.conn.local_flow_control_window(stream_id),
                             self.conn.max_outbound_frame_size)  # fmt: skip
                while data and window > 0:
                    chunk, data = data[:window], data[window:]
                    self.conn.send_data(stream_id, chunk)
                    window = min(self.conn.local_flow_control_window(stream_id),
                                 self.conn.max_outbound_frame_size)  # fmt: skip
                if data:
                    self.waiting[stream_id] = data
                    continue
                del self.waiting[stream_id]
                self.conn.send_headers(stream_id, [(b"grpc-status", b"0")], end_stream=True)
                self.streams.pop(stream_id, None)
            except H2Error:
                self._forget(stream_id)
        self._flush()

    def _reset(self, stream_id: int) -> None:
        with contextlib.suppress(H2Error):
            self.conn.reset_stream(stream_id, error_code=ErrorCodes.INTERNAL_ERROR)
        self._forget(stream_id)
        self._flush()

    def _forget(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        self.waiting.pop(stream_id, None)
        if stream is not None:
            if stream.key is not None:
                self.target.cancel(stream.key)
            if stream.task is not None and not stream.task.done():
                stream.task.cancel()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self) -> None:
        """The whole connection closed at once, as a server that drops it (no GOAWAY)."""
        if self.transport is not None:
            self.transport.abort()


async def _serve(
    spec: TargetSpec, bind: str, seed: int, schedule: tuple[Fault, ...], announce: Any
) -> int:
    target = H2Target(spec, seed)
    host, _, port_text = bind.rpartition(":")
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(lambda: CallConnection(target), host, int(port_text))
    except (OSError, ValueError) as error:
        raise LbbenchError("--bind", f"cannot listen on {bind}: {error}") from None
    port = server.sockets[0].getsockname()[1]
    await announce_and_wait(target, host, port, announce, "gRPC (HTTP/2 server)", schedule)
    server.close()
    return 0


def serve(
    spec: TargetSpec,
    bind: str,
    *,
    seed: int = 0,
    schedule: tuple[Fault, ...] = (),
    announce_to: Any = None,
) -> int:
    """Serve one target over HTTP/2 in this process until SIGTERM or SIGINT."""
    return asyncio.run(_serve(spec, bind, seed, schedule, announce_to))
