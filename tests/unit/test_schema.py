"""Tables into config types: one loader, errors naming the file and the key."""

from __future__ import annotations

import pytest

from lbbench.core.failover import RetryConfig
from lbbench.core.faults import Fault
from lbbench.errors import ConfigError
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import TargetSpec
from lbbench.schema import load

GOOD = [
    # type, table, what to check
    (LoadSpec, {"rate": 100, "duration_s": 2}, lambda v: (v.rate, v.duration_s) == (100.0, 2.0)),
    (RetryConfig, {"budget_ratio": 0.2}, lambda v: v.budget_ratio == 0.2),
    (
        TargetSpec,
        {"id": "t0", "latency": {"dist": "fixed", "ms": 3}},
        lambda v: v.latency.seconds() == {"ms": 0.003},
    ),
    (
        Fault,
        {"at_s": 1, "target": "t0", "kind": "hang"},
        lambda v: (v.kind, v.params) == ("hang", ()),
    ),
]


@pytest.mark.parametrize(("cls", "table", "check"), GOOD)
def test_a_good_table_becomes_its_type(cls, table, check):
    value = cls.from_table(table, "f.toml: x") if cls is Fault else load(cls, table, "f.toml: x")
    assert check(value)


BAD = [
    # type, table, where the table is, where the error points, what it says
    (LoadSpec, {"rate": 100, "burst": 3}, "f: load", "f: load.burst", "unknown key"),
    (LoadSpec, {"rate": "fast"}, "f: load", "f: load.rate", "must be a number"),
    (LoadSpec, {"rate": True}, "f: load", "f: load.rate", "must be a number"),
    (LoadSpec, {"rate": -1}, "f: load", "f: load.rate", "must be > 0"),
    (LoadSpec, {"keys": 1.5}, "f: scenario[2].load", "f: scenario[2].load.keys", "integer"),
    (LoadSpec, {"arrival": "bursty"}, "f: load", "f: load.arrival", "unknown 'bursty'"),
    (RetryConfig, {"max_attempts": 0}, "f: failover.retry", "f: failover.retry.max_attempts", "1"),
    (TargetSpec, {"weight": 2}, "f: target[0]", "f: target[0].id", "missing"),
    (TargetSpec, {"id": "t0", "weight": 0}, "f: target[0]", "f: target[0].weight", ">= 1"),
    (TargetSpec, {"id": "t0", "latency": 5}, "f: target[0]", "f: target[0].latency", "a table"),
    (TargetSpec, {"id": "t0", "latency": {"dist": "fixed"}}, "f: t", "f: t.latency.ms", "missing"),
    (TargetSpec, {"id": "x" * 300}, "f: target[0]", "f: target[0].id", "at most 64 characters"),
    (TargetSpec, {"id": "<b>"}, "f: target[0]", "f: target[0].id", "only letters, digits"),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "table", "where", "at", "words"), BAD)
def test_a_bad_table_is_one_error_naming_file_and_key(cls, table, where, at, words):
    with pytest.raises(ConfigError) as caught:
        load(cls, table, where)
    assert caught.value.where == at
    assert words in caught.value.message
