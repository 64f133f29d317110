"""The one map between lbbench outcomes and gRPC status codes, both ways.

The gateway turns the balancer's outcome into a status code for its gRPC
caller; the gRPC target answers an injected error with one; the gRPC
generator and the Locust gRPC user turn the code they receive back into an
outcome. All of them use this map, so an outcome survives the round trip
(tested): ok <-> OK, error <-> INTERNAL, timeout <-> DEADLINE_EXCEEDED,
unavailable <-> UNAVAILABLE, overloaded <-> RESOURCE_EXHAUSTED, malformed
<-> INVALID_ARGUMENT. A code outside the map (CANCELLED, UNKNOWN, ...) is
an ``error``: something failed, and the map does not say what.
"""

from __future__ import annotations

import grpc

from lbbench.vocabulary import Outcome

CODES: dict[Outcome, grpc.StatusCode] = {
    Outcome.OK: grpc.StatusCode.OK,
    Outcome.ERROR: grpc.StatusCode.INTERNAL,
    Outcome.TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    Outcome.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Outcome.OVERLOADED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Outcome.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
}
OUTCOMES_BY_CODE: dict[grpc.StatusCode, Outcome] = {code: o for o, code in CODES.items()}


def code_of(outcome: str) -> grpc.StatusCode:
    """The status code for an outcome word (UNKNOWN for a word lbbench does not speak)."""
    try:
        return CODES[Outcome(outcome)]
    except ValueError:
        return grpc.StatusCode.UNKNOWN


def outcome_of(code: grpc.StatusCode) -> Outcome:
    """The outcome a status code stands for (``error`` for codes outside the map)."""
    return OUTCOMES_BY_CODE.get(code, Outcome.ERROR)
