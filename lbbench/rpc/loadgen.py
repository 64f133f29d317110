"""The open-loop generator over a gRPC channel balanced by grpcio itself (``grpc:<policy>``).

Same schedule, same recorder and same report as the ZeroMQ generator
(``lbbench.rigs.loadgen``), so results land in the same format: calls start at
their intended times (constant or Poisson, the same seeded draws) without
waiting for earlier answers; latency is measured from the intended time
(corrected) and from the actual start (uncorrected); the send lag is
recorded and checked by the parent. gRPC status codes become
lbbench outcomes by ``lbbench.rpc.status``. The serving target is
the ``backend`` the reply names.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from typing import Any

import grpc

from lbbench.results.recorder import Recorder
from lbbench.rigs.process import STOP_CHECK_S
from lbbench.rpc import lbbench_pb2, lbbench_pb2_grpc
from lbbench.rpc.policies import ENVIRONMENT, channel_options
from lbbench.rpc.shell import BACKEND_TRAILER
from lbbench.rpc.status import outcome_of
from lbbench.scenario.load import LoadSpec, key_sampler
from lbbench.vocabulary import OK


async def _generate(
    spec: LoadSpec,
    job: dict[str, Any],
    handshake: Callable[[], float],
    seed: int,
    stop: Callable[[], bool],
) -> dict[str, Any]:
    rng = random.Random(seed)
    pick_key = key_sampler(spec, rng)
    target = "ipv4:" + ",".join(job["addresses"])
    options = channel_options(job["strategy"], tuple(job["modes"]))
    recorder = Recorder()
    payload = b"x" * spec.payload_bytes
    deadline_s = job["deadline_s"]
    pending: set[asyncio.Task] = set()
    late = 0
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        stub = lbbench_pb2_grpc.LbbenchStub(channel)
        await channel.channel_ready()  # connect before the clock starts
        start_at = handshake()

        async def call(intended: float, key: bytes | None) -> None:
            actual = time.monotonic()
            request = lbbench_pb2.CallRequest(payload=payload, key=key or b"")
            metadata = (("lb-key", key.decode()),) if key else None
            status, backend = OK, ""
            try:
                reply = await stub.Call(request, timeout=deadline_s, metadata=metadata)
                backend = reply.backend
            except grpc.aio.AioRpcError as error:
                status = outcome_of(error.code())
                # the trailers name the target (an HTTP 503 names it in its headers)
                said = dict(error.trailing_metadata() or ()) or dict(error.initial_metadata() or ())
                backend = said.get(BACKEND_TRAILER, "")
            now = time.monotonic()
            recorder.record_reply(
                status, backend, now - intended, now - actual, intended - start_at
            )

        end_at = start_at + spec.duration_s
        next_at = start_at
        stopped_at = None
        while next_at < end_at:
            wait = next_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, STOP_CHECK_S))
            now = time.monotonic()
            if stop():  # the rig's SIGTERM: no more sends; calls out still finish
                stopped_at = end_at = now
                break
            while next_at <= now and next_at < end_at:
                if now > end_at + 0.005:
                    late += 1
                recorder.record_send(now - next_at)
                task = asyncio.create_task(call(next_at, pick_key() if pick_key else None))
                pending.add(task)
                task.add_done_callback(pending.discard)
                next_at += spec.next_gap(next_at - start_at, rng)
        if pending:
            await asyncio.wait(pending, timeout=spec.drain_s + deadline_s)
        recorder.lost = sum(not task.done() for task in pending)
        for task in pending:
            task.cancel()
    elapsed = max(1e-9, min(time.monotonic(), end_at) - start_at)
    return {
        "recorder": recorder.to_wire(),
        "elapsed_s": elapsed,
        "sent": recorder.sent,
        "late": late,
        "stopped_s": None if stopped_at is None else stopped_at - start_at,
    }


def generate_grpc(
    spec: LoadSpec,
    job: dict[str, Any],
    start_at: Callable[[], float],
    seed: int,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Run one gRPC generator (in its own process); ``start_at`` is the handshake."""
    os.environ.update(ENVIRONMENT)
    # The channel connects first, then the handshake fixes the start.
    return asyncio.run(_generate(spec, job, start_at, seed, stop))
