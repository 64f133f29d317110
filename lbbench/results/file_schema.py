"""The declared shape of a result file (``lbbench.run/1``), checked on every read.

Result files are shared between people (that is what ``compare`` is for),
so reading one is reading untrusted input: every command that reads one
(``rank``, ``compare``, ``report``, ``gate``, ``map``, ``sim --against``)
gets either a checked result set or one line naming the file and the
field. Leaves are read with the same loader as suite files and profiles
(``lbbench.schema.convert``); what a measurement cannot be is refused too:
a count or a latency below zero, a share or an error rate outside [0, 1],
anything not finite (JSON's ``NaN`` and ``Infinity``), percentiles out of
order, a scenario whose outcomes do not add up to what it sent.

Keys not declared here are allowed (files grow, and old files stay
readable: what later versions added is optional here).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lbbench.errors import ConfigError
from lbbench.schema import convert, join
from lbbench.vocabulary import OUTCOMES

# A check takes a value and where it is (``scenarios[0].summary.p99``), and raises
# ConfigError when the value is not what the format promises.
Check = Callable[[Any, str], None]


# No figure of a run comes near these (a latency of 30 years in ms, 10^12 requests a
# second); beyond them sums and ratios of several overflow.
LARGEST = 1e12


def number(low: float | None = 0.0, high: float | None = LARGEST, null: bool = False) -> Check:
    """A finite number in [low, high] (None: unbounded); ``null``: JSON null allowed too."""

    def check(value: Any, where: str) -> None:
        if value is None and null:
            return
        value = convert(float, value, where)
        if not math.isfinite(value):
            raise ConfigError(where, f"must be a finite number, got {value!r}")
        if low is not None and value < low:
            raise ConfigError(where, f"must be >= {low:g}, got {value!r}")
        if high is not None and value > high:
            raise ConfigError(where, f"must be <= {high:g}, got {value!r}")

    return check


def integer(low: int = 0, null: bool = False) -> Check:
    def check(value: Any, where: str) -> None:
        if value is None and null:
            return
        if convert(int, value, where) < low:
            raise ConfigError(where, f"must be >= {low}, got {value!r}")
        if value > LARGEST:
            raise ConfigError(where, f"must be <= {LARGEST:g}, got {value!r}")

    return check


def text(null: bool = False) -> Check:
    def check(value: Any, where: str) -> None:
        if not (value is None and null):
            convert(str, value, where)

    return check


def boolean(value: Any, where: str) -> None:
    convert(bool, value, where)


def list_of(item: Check, non_empty: bool = False) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise ConfigError(where, f"must be a list, got {_kind(value)}")
        if non_empty and not value:
            raise ConfigError(where, "must not be empty")
        for index, element in enumerate(value):
            item(element, f"{where}[{index}]")

    return check


def map_of(item: Check) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(where, f"must be an object, got {_kind(value)}")
        for key, element in value.items():
            item(element, join(where, str(key)))

    return check


def obj(
    required: Mapping[str, Check],
    optional: Mapping[str, Check] | None = None,
    null: bool = False,
    then: Sequence[Check] = (),
) -> Check:
    """An object with these keys (others allowed); ``then``: checks of the whole, once its
    keys are known good."""

    def check(value: Any, where: str) -> None:
        if value is None and null:
            return
        if not isinstance(value, Mapping):
            raise ConfigError(where, f"must be an object, got {_kind(value)}")
        for key, item in required.items():
            if key not in value:
                raise ConfigError(join(where, key), "missing")
            item(value[key], join(where, key))
        for key, item in (optional or {}).items():
            if key in value:
                item(value[key], join(where, key))
        for whole in then:
            whole(value, where)

    return check


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


# ------------------------------------------------------------ the figures


def percentiles_in_order(value: Mapping[str, Any], where: str) -> None:
    """p50 <= p90 <= p99 <= p99.9 <= max, and the mean within [0, max]: any histogram's."""
    order = [key for key in ("p50", "p90", "p99", "p99.9", "max") if value.get(key) is not None]
    for lower, upper in itertools.pairwise(order):
        if value[lower] > value[upper]:
            raise ConfigError(
                join(where, lower), f"{value[lower]!r} is above {upper} {value[upper]!r}"
            )
    top, mean = value.get("max"), value.get("mean")
    if top is not None and mean is not None and mean > top:
        raise ConfigError(join(where, "mean"), f"{mean!r} is above max {top!r}")


def outcomes_add_up(value: Mapping[str, Any], where: str) -> None:
    """Nothing lost unaccounted: sent = the outcomes + lost."""
    counted = sum(value.get(status, 0) for status in OUTCOMES) + value.get("lost", 0)
    if value["sent"] != counted:
        raise ConfigError(where, f"sent {value['sent']} != outcomes + lost {counted}")


def histogram(value: Any, where: str) -> None:
    """An HdrHistogram in its standard compressed encoding (decoded here: a reader that
    decodes it later must not meet garbage)."""
    from lbbench.results.recorder import decode

    convert(str, value, where)
    try:
        decoded = decode(value)
    except Exception:  # (hdrh raises whatever its parsing meets)
        raise ConfigError(where, "not an encoded HdrHistogram") from None
    if decoded is None or decoded.get_total_count() < 0:
        raise ConfigError(where, "not an encoded HdrHistogram")


HISTOGRAMS = obj({"corrected": histogram, "uncorrected": histogram})
MS = number()  # a latency in ms (an empty histogram's figures are 0)
LATENCY = obj(
    {key: MS for key in ("p50", "p90", "p99", "p99.9", "max", "mean")},
    {key: MS for key in ("p99.99", "min")},
    then=[percentiles_in_order],
)
LATENCIES = obj({"corrected": LATENCY, "uncorrected": LATENCY})
REQUESTS = obj(
    {"sent": integer()},
    {status: integer() for status in (*OUTCOMES, "lost")},
    then=[outcomes_add_up],
)
FRACTION = number(0.0, 1.0)
BACKEND = obj(
    {
        "id": text(),
        "weight": integer(1),
        "tier": integer(),
        "attempts": integer(),
        "share": FRACTION,
        "expected_share": FRACTION,
        "errors": integer(),
        "timeouts": integer(),
    },
    {"served_ok": integer()},
)
FAIRNESS = obj(
    {
        "jain": number(0.0, 1.0),
        "cv": number(),
        "max_over_mean": number(),
        "max_share_error": number(),
    },
)
FAILOVER_COUNTS = {
    count: integer()
    for count in (
        "attempts",
        "retries",
        "hedges",
        "hedge_wins",
        "cancelled",
        "ejections",
        "budget_exhausted",
    )
}
FAULT_TIMES = {  # a fault's detection and recovery (null: never, or it never ended)
    "at_s": number(),
    "detection_s": number(null=True),
    "recovery_s": number(null=True),
}
FAULT_OPTIONAL = {"duration_s": number(null=True), "kind": text(), "target": text()}
TRIAL_FAILOVER = obj(
    {}, {**FAILOVER_COUNTS, "faults": list_of(obj(FAULT_TIMES, FAULT_OPTIONAL))}, null=True
)
SUMMARY_FAILOVER = obj(  # over the trials: how many of them detected each fault
    {
        "faults": list_of(
            obj({**FAULT_TIMES, "detected_in": integer()}, {**FAULT_OPTIONAL, "trials": integer()})
        )
    },
    FAILOVER_COUNTS,
)
# Samples are one value per trial and metric; only these can be below zero (attempts per
# request less one: requests answered without any attempt make it negative).
SIGNED_SAMPLES = frozenset({"extra_attempts"})


def samples(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(where, f"must be an object, got {_kind(value)}")
    for name, values in value.items():
        low = -LARGEST if name in SIGNED_SAMPLES else 0.0
        list_of(number(low=low))(values, join(where, str(name)))


def rif(value: Any, where: str) -> None:
    """Requests in flight: ``counts`` (in flight an attempt joined -> how often) and its
    figures (mean, p50, p99, p99.9, max; null where nobody counted)."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise ConfigError(where, f"must be an object, got {_kind(value)}")
    for key, figure in value.items():
        if key == "counts":
            map_of(integer())(figure, join(where, key))
        else:
            number(null=True)(figure, join(where, str(key)))


RIF = rif
SUMMARY = obj(
    {
        "requests": REQUESTS,
        "throughput_rps": number(),
        "latency_ms": LATENCIES,
        "backends": list_of(BACKEND),
        "fairness": FAIRNESS,
        "failover": SUMMARY_FAILOVER,
        "histograms": HISTOGRAMS,
    },
    {"error_rate": FRACTION, "rif": RIF},
)
TRIAL = obj(
    {"requests": REQUESTS, "latency_ms": LATENCIES},
    {
        "seed": integer(),
        "valid": boolean,
        "problems": list_of(text()),
        "throughput_rps": number(),
        "error_rate": FRACTION,
        "backends": list_of(BACKEND),
        "fairness": FAIRNESS,
        "rif": RIF,
        "failover": TRIAL_FAILOVER,
        "histograms": HISTOGRAMS,
        "events": list_of(obj({})),
        # the live rig's own mean latency in this trial (lbbench.rigs.calibration)
        "rig_overhead": obj({}, {"mean_ms": number(low=None, null=True), "why": text(null=True)}),
    },
)
SCENARIO = obj(
    {
        "key": text(),
        "profile": text(),
        "strategy": text(),
        "failover": text(),
        "load": obj({}),
        "seed": integer(),
        "valid": boolean,
        "problems": list_of(text()),
        "summary": SUMMARY,
        "samples": samples,
        "trials": list_of(TRIAL),
    },
    {
        "name": text(),
        "group": text(),
        "cell": map_of(text()),
        "balancer": text(),
        "balancer_options": obj({}),
        "balancers": integer(low=1),
        "balancers_split": text(),
        "deadline_s": number(),
        "trials_run": integer(),
        "simulated": boolean,
        "settings": obj({}),
        "router_settings": obj({}),
    },
)
# What commands read of the run's configuration: the suite's gate thresholds (gate) and
# its winner map (map); the rest of it is free-form.
MAP = obj(
    {
        "contenders": list_of(text(), non_empty=True),
        "rows": list_of(text()),
        "columns": list_of(text()),
        "metric": text(),
    },
    {"max_extra_errors": number(0.0, 1.0)},
    null=True,
)
CONFIG = obj({}, {"gate": text(null=True), "map": MAP})
RESULT_SET = obj(
    {
        "run_id": text(),
        "created_utc": text(),
        "environment": obj({}),
        "config": CONFIG,
        "scenarios": list_of(SCENARIO, non_empty=True),
    }
)


def check_result_set(data: Any) -> None:
    """ConfigError naming the field when ``data`` is not a result set (format checked first)."""
    RESULT_SET(data, "")
