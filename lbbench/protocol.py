"""The only module that knows frame layouts (see README, "Wire protocol").

Client <-> balancer frontend (ROUTER): a stock REQ socket works unchanged.
After the REQ envelope (routing ids, then an empty delimiter) the request
body is one frame (payload) or two (routing key, payload). The reply body
is three frames: status, backend id, payload.

Balancer backend (ROUTER) <-> targets (DEALER, routing id = target id).
Target to balancer: READY <json metadata> | HB | REP<attempt><ok|error>
<payload> | PROBED <attempt> <in_flight> <latency_us> | LOAD <in_flight>
(its load report, every period, when asked to post them) | BYE.
Balancer to target: REQ<attempt> <key> <payload> | CANCEL <attempt> | HB |
PROBE <attempt> | FAULT <json command> | WHO (please announce yourself).
Attempt ids are 8-byte big-endian unsigned integers. On the hot path
(REQ, REP) the command, the attempt id and the status share one header
frame: every frame costs a socket call, and these two messages are most
of the traffic.

Pure: no pyzmq here (``lbbench.zmq_io`` moves the frames), so the gRPC
target and the simulator read payloads with it without the live stack.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from lbbench.vocabulary import MALFORMED, attempt_quantile

READY = b"READY"
HB = b"HB"
REP = b"REP"
PROBED = b"PROBED"
LOAD = b"LOAD"
BYE = b"BYE"
REQ = b"REQ"
CANCEL = b"CANCEL"
PROBE = b"PROBE"
FAULT = b"FAULT"
WHO = b"WHO"

# Where a rig started by hand listens (``lbbench balancer`` and ``target`` with no flags).
DEFAULT_FRONTEND = "tcp://127.0.0.1:5555"
DEFAULT_BACKEND = "tcp://127.0.0.1:5556"
DEFAULT_CONTROL = "tcp://127.0.0.1:5557"

STATUS_OK = b"ok"
STATUS_ERROR = b"error"
STATUS_MALFORMED = MALFORMED.encode()

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
pack_id = _U64.pack


class ProtocolError(ValueError):
    """A frame that does not follow the protocol; the message names the frame."""


def request_header(attempt: int) -> bytes:
    """The first frame of a REQ: b"REQ" + attempt id."""
    return REQ + _U64.pack(attempt)


def request_attempt(header: bytes) -> bytes | None:
    """The attempt id (its 8 bytes as sent) of a REQ header, or None if it is not one."""
    if len(header) == 3 + _U64.size and header[:3] == REQ:
        return header[3:]
    return None


def reply_header(attempt: bytes, status: bytes) -> bytes:
    """The first frame of a REP: b"REP" + the attempt id as received + status word."""
    return REP + attempt + status


def parse_reply_header(header: bytes) -> tuple[int, bool]:
    """(attempt id, ok) from a REP header; ProtocolError if it is not one."""
    if len(header) < 13 or header[:3] != REP:
        raise ProtocolError(f"REP header must be REP + 8-byte id + status, got {header[:16]!r}")
    status = header[11:]
    if status not in (STATUS_OK, STATUS_ERROR):
        raise ProtocolError(f"REP status must be ok or error, got {status!r}")
    return _U64.unpack(header[3:11])[0], status == STATUS_OK


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Split a frontend message into (envelope up to the empty delimiter, body).

    Raises ProtocolError when there is no delimiter; the envelope returned
    then is just the first routing id, so a ``malformed`` reply can still go
    back.
    """
    for index in range(1, len(frames)):
        if not frames[index]:
            return frames[: index + 1], frames[index + 1 :]
    raise ProtocolError("no empty delimiter frame after the routing id")


def parse_request_body(body: list[bytes]) -> tuple[bytes | None, bytes]:
    """(key, payload) from a body of one frame (payload) or two (key, payload)."""
    if len(body) == 1:
        return None, body[0]
    if len(body) == 2:
        return body[0], body[1]
    raise ProtocolError(f"request body must be 1 or 2 frames, got {len(body)}")


def reply_frames(
    envelope: list[bytes], status: bytes, backend: bytes, payload: bytes
) -> list[bytes]:
    return [*envelope, status, backend, payload]


def encode_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def decode_json(frame: bytes, what: str) -> Any:
    try:
        return json.loads(frame)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise ProtocolError(f"{what} frame is not JSON: {str(error)[:80]}") from None


def pack_probe_reply(in_flight: int, latency_s: float) -> tuple[bytes, bytes]:
    return _U32.pack(min(in_flight, 0xFFFFFFFF)), _U32.pack(min(int(latency_s * 1e6), 0xFFFFFFFF))


def unpack_probe_reply(in_flight: bytes, latency_us: bytes) -> tuple[int, float]:
    if len(in_flight) != 4 or len(latency_us) != 4:
        raise ProtocolError("probe reply frames must be 4 bytes each")
    return _U32.unpack(in_flight)[0], _U32.unpack(latency_us)[0] / 1e6


def pack_load(in_flight: int) -> bytes:
    """A load report's frame: the requests a target holds, from every balancer (u32)."""
    return _U32.pack(min(max(in_flight, 0), 0xFFFFFFFF))


def unpack_load(frame: bytes) -> int:
    if len(frame) != 4:
        raise ProtocolError("a load report's frame must be 4 bytes")
    return int(_U32.unpack(frame)[0])


# A request payload may carry its amount of work: the 4 bytes WORK_MARK,
# then a float64 (little-endian) quantile in [0, 1). The mock target then
# serves it for that quantile of its latency model instead of drawing one,
# so a live run and its simulation (which draws the same quantiles from the
# same seed) give every request the same work: common random numbers
# across rigs. Any other payload is served with the target's own draw. The
# balancer steps the quantile for each further attempt of a request
# (payload_for_attempt), as the simulator does.
WORK_MARK = b"LBW1"
_WORK = struct.Struct("<4sd")
WORK_BYTES = _WORK.size


def payload_with_work(quantile: float, size: int) -> bytes:
    """A payload of ``size`` bytes (at least WORK_BYTES) carrying ``quantile``."""
    return _WORK.pack(WORK_MARK, quantile) + b"x" * (size - WORK_BYTES)


def payload_for_attempt(payload: bytes, ordinal: int) -> bytes:
    """The payload of a request's attempt number ``ordinal`` (0: the first): with a work
    quantile q, the n-th attempt carries ``vocabulary.attempt_quantile(q, n)``;
    any other payload goes as it came."""
    if ordinal == 0:
        return payload
    quantile = work_of(payload)
    if quantile is None:
        return payload
    stepped = attempt_quantile(quantile, ordinal)
    return _WORK.pack(WORK_MARK, stepped) + payload[WORK_BYTES:]


def work_of(payload: bytes) -> float | None:
    """The quantile a payload carries, or None (no mark, or a value outside [0, 1))."""
    if len(payload) < WORK_BYTES or payload[:4] != WORK_MARK:
        return None
    quantile = _WORK.unpack_from(payload)[1]
    return quantile if 0.0 <= quantile < 1.0 else None  # (NaN fails both)
