"""One vocabulary: outcome words survive the trip through gRPC status codes and back."""

from __future__ import annotations

import grpc
import pytest

from lbbench.rpc.status import code_of, outcome_of
from lbbench.vocabulary import OUTCOMES, Outcome

ROUND_TRIP = [
    ("ok", grpc.StatusCode.OK),
    ("error", grpc.StatusCode.INTERNAL),
    ("timeout", grpc.StatusCode.DEADLINE_EXCEEDED),
    ("unavailable", grpc.StatusCode.UNAVAILABLE),
    ("overloaded", grpc.StatusCode.RESOURCE_EXHAUSTED),
    ("malformed", grpc.StatusCode.INVALID_ARGUMENT),
]


@pytest.mark.parametrize(("word", "code"), ROUND_TRIP)
def test_every_outcome_maps_to_its_code_and_back(word, code):
    assert code_of(word) is code
    assert outcome_of(code) == word


def test_the_table_covers_every_outcome_once():
    assert {word for word, _ in ROUND_TRIP} == set(Outcome)
    assert len({code for _, code in ROUND_TRIP}) == len(ROUND_TRIP)


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED, grpc.StatusCode.NOT_FOUND]
)
def test_codes_outside_the_map_are_errors(code):
    assert outcome_of(code) == "error"


def test_a_word_lbbench_does_not_speak_is_unknown_to_grpc():
    assert code_of("exploded") is grpc.StatusCode.UNKNOWN


def test_outcomes_are_their_own_strings_on_the_wire_and_in_json():
    import json

    assert [o.encode() for o in OUTCOMES] == [
        b"ok",
        b"error",
        b"timeout",
        b"unavailable",
        b"overloaded",
    ]
    assert json.dumps({Outcome.OK: Outcome.TIMEOUT}) == '{"ok": "timeout"}'
