"""A Locust user that calls lbbench's gRPC service: the gateway, or a proxy in front of the
gRPC targets (grpcio made gevent-friendly).

``host`` is the gateway's or the proxy's address (e.g. 127.0.0.1:50050). grpcio runs its
own threads; ``init_gevent()`` (called on import, before any channel) lets
them cooperate with Locust's gevent loop. Each call fires one Locust
request event, like the ZeroMQ user: response time and length, the
serving backend in the context, and an exception with the gRPC status
for anything but OK (the gateway maps the balancer's statuses to codes).
"""

from __future__ import annotations

import time

import grpc
import grpc.experimental.gevent as grpc_gevent

from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from lbbench.rpc.shell import BACKEND_TRAILER
from lbbench.rpc.status import outcome_of
from lbbench.swarm.recording import report_call
from lbbench.swarm.workload import PacedUser
from lbbench.vocabulary import OK

grpc_gevent.init_gevent()


class GrpcUser(PacedUser):
    """Calls the gateway (``host``, e.g. 127.0.0.1:50050) over gRPC."""

    abstract = True

    def on_start(self) -> None:
        self.channel = grpc.insecure_channel(self.host)
        self.stub = lbbench_pb2_grpc.LbbenchStub(self.channel)

    def on_stop(self) -> None:
        self.channel.close()

    def call(self, name: str, key: bytes | None = None) -> str:
        request = lbbench_pb2.CallRequest(payload=self.payload, key=key or b"")
        # the key rides as a header too: a proxy hashes on it (the gateway reads the field)
        metadata = (("lb-key", key.decode()),) if key else None
        started = time.perf_counter()
        status, backend, length, exception = OK, "", 0, None
        try:
            reply = self.stub.Call(request, timeout=self.timeout_s, metadata=metadata)
            backend, length = reply.backend, len(reply.payload)
        except grpc.RpcError as error:
            status = outcome_of(error.code())
            exception = error
            # through a proxy, a target's error names the target in its trailers
            said = dict(error.trailing_metadata() or ()) or dict(error.initial_metadata() or ())
            backend = said.get(BACKEND_TRAILER, "")
        report_call(self, "grpc", name, started, length, exception, backend, status)
        return status
