"""The registry of metrics: what every table, comparison, gate and ranking reads.

A metric says where its per-trial samples come from (``trial_values``, the
samples a significance test compares), what its merged value over a
scenario's trials is (``summary_value``, what tables show), which way is
better, what kind of quantity it is (a time, a rate, or an index whose
change is a difference of points) and how to show it. The summary table
of ``lbbench run``, the HTML report, ``compare``, ``gate`` and the coming
ranking take their columns and rules from here, so a new metric is one
entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lbbench.errors import NotFoundError

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Metric:
    name: str
    sample: str  # its key in a scenario's "samples"
    lower_is_better: bool
    # "time" (faster/slower), "rate" (higher/lower), "count" (more/fewer) or
    # "index" (difference of points)
    kind: str
    unit: str
    description: str
    trial_values: Callable[[Record], list[float]]
    summary_value: Callable[[Record], float | None]
    column: str = ""  # its header in summary tables ("" keeps it out of them)
    show: Callable[[Record], str] | None = None  # its cell, from a scenario summary


def _latency(q: str) -> tuple[Callable[[Record], list[float]], Callable[[Record], float | None]]:
    return (
        lambda trial: [trial["latency_ms"]["corrected"][q]],
        lambda summary: summary["latency_ms"]["corrected"][q],
    )


def _fault_times(key: str) -> Callable[[Record], list[float]]:
    return lambda trial: [f[key] for f in trial["failover"]["faults"] if f[key] is not None]


def _first_fault(key: str) -> Callable[[Record], float | None]:
    def value(summary: Record) -> float | None:
        faults = summary["failover"]["faults"]
        return faults[0][key] if faults else None

    return value


def _errors_cell(summary: Record) -> str:
    requests = summary["requests"]
    failed = requests["sent"] - requests["ok"]
    return f"{failed} ({100 * failed / max(1, requests['sent']):.1f}%)"


def _detection_cell(summary: Record) -> str:
    faults = summary["failover"]["faults"]
    if faults and faults[0]["detected_in"] == 0:
        return "never"
    value = faults[0]["detection_s"] if faults else None
    return "-" if value is None else f"{value:.2f}"


def _seconds_cell(value: Callable[[Record], float | None]) -> Callable[[Record], str]:
    def cell(summary: Record) -> str:
        seconds = value(summary)
        return "-" if seconds is None else f"{seconds:.2f}"

    return cell


def _fixed(value: Callable[[Record], float | None], digits: int) -> Callable[[Record], str]:
    return lambda summary: f"{value(summary):.{digits}f}"


_P50, _P90, _P99, _P999 = _latency("p50"), _latency("p90"), _latency("p99"), _latency("p99.9")
_MAX = _latency("max")


def _shed(record: Record) -> float:
    """Share of sent requests the balancer answered overloaded (it shed them)."""
    requests = record["requests"]
    return requests["overloaded"] / requests["sent"] if requests["sent"] else 0.0


def _extra_attempts(record: Record) -> float:
    """Attempts beyond one per request sent (retries and hedges): the load failover adds."""
    sent = record["requests"]["sent"]
    return (record["failover"]["attempts"] - sent) / sent if sent else 0.0


def _rif(q: str) -> tuple[Callable[[Record], list[float]], Callable[[Record], float | None]]:
    """Requests in flight joined: absent from results made before it was counted."""

    def value(record: Record) -> float | None:
        rif = record.get("rif")
        return None if rif is None else rif[q]

    return lambda trial: [v for v in [value(trial)] if v is not None], value


_detection = _first_fault("detection_s")
_recovery = _first_fault("recovery_s")
_throughput = lambda summary: summary["throughput_rps"]  # noqa: E731
_jain = lambda summary: summary["fairness"]["jain"]  # noqa: E731
_share = lambda summary: summary["fairness"]["max_share_error"]  # noqa: E731

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "throughput", "throughput_rps", False, "rate", "req/s",
            "successful answers per second of load",
            lambda t: [t["throughput_rps"]], _throughput,
            "ok req/s", _fixed(_throughput, 0),
        ),
        Metric(
            "p50", "p50_ms", True, "time", "ms", "median latency from the intended send",
            *_P50, "p50 ms", _fixed(_P50[1], 2),
        ),
        Metric("p90", "p90_ms", True, "time", "ms", "90th percentile latency", *_P90),
        Metric(
            "p99", "p99_ms", True, "time", "ms", "99th percentile latency",
            *_P99, "p99 ms", _fixed(_P99[1], 2),
        ),
        Metric(
            "p99.9", "p99.9_ms", True, "time", "ms", "99.9th percentile latency",
            *_P999, "p99.9 ms", _fixed(_P999[1], 2),
        ),
        Metric(
            "max", "max_ms", True, "time", "ms",
            "the slowest answer, from the intended send (what a deadline must cover)",
            *_MAX,
        ),
        Metric(
            "shed", "shed", True, "index", "",
            "share of requests answered overloaded (shed by the balancer)",
            lambda t: [_shed(t)], _shed,
        ),
        Metric(
            "error_rate", "error_rate", True, "index", "",
            "share of answered requests that were not ok",
            lambda t: [t["error_rate"]], lambda s: s["error_rate"],
            "errors", _errors_cell,
        ),
        Metric(
            "extra_attempts", "extra_attempts", True, "index", "",
            "attempts beyond one per request (retries, hedges): the load failover adds",
            lambda t: [_extra_attempts(t)], _extra_attempts,
        ),
        Metric(
            "rif_p99", "rif_p99", True, "count", "requests",
            "99th percentile of the requests in flight an attempt joined at its backend",
            *_rif("p99"),
        ),
        Metric(
            "rif_mean", "rif_mean", True, "count", "requests",
            "mean requests in flight an attempt joined at its backend",
            *_rif("mean"),
        ),
        Metric(
            "share_error", "max_share_error", True, "index", "",
            "largest gap between a backend's share of attempts and its fair share",
            lambda t: [t["fairness"]["max_share_error"]], _share,
            "share err", lambda s: f"{100 * _share(s):.1f}%",
        ),
        Metric(
            "jain", "jain", False, "index", "",
            "Jain's fairness index of shares over fair shares (1 = fair)",
            lambda t: [t["fairness"]["jain"]], _jain,
            "Jain", _fixed(_jain, 3),
        ),
        Metric(
            "detection", "detection_s", True, "time", "s",
            "from a fault's start until the balancer stopped using the target",
            _fault_times("detection_s"), _detection,
            "detect s", _detection_cell,
        ),
        Metric(
            "recovery", "recovery_s", True, "time", "s",
            "from a fault's end until the target got its share again",
            _fault_times("recovery_s"), _recovery,
            "recover s", _seconds_cell(_recovery),
        ),
    )
}  # fmt: skip


def metric(name: str) -> Metric:
    """A metric by name (a NotFoundError, a KeyError too, names the known ones)."""
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(METRICS)
        raise NotFoundError("metric", f"unknown metric {name!r} (known: {known})") from None


def columns() -> list[Metric]:
    """The metrics summary tables show, in order."""
    return [m for m in METRICS.values() if m.column]


def samples(trials: Sequence[Record]) -> dict[str, list[float]]:
    """Every metric's samples over a scenario's trials (the significance tests' input)."""
    return {m.sample: [v for t in trials for v in m.trial_values(t)] for m in METRICS.values()}
