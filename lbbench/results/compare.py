"""Compare result sets: per scenario and metric, a ratio in words and a significance verdict.

Scenarios are matched by their key (profile/strategy/failover/load). Each
metric is compared on its per-trial samples:

- Mann-Whitney U (two-sided, alpha 0.05) when both sides have at least 4
  samples: it assumes no distribution, and with 4 against 4 its smallest
  possible p-value (0.029) can pass 0.05; with fewer it never can.
- a bootstrap 95 % interval of the difference of means (10 000 resamples,
  seeded) when either side has 2 or 3: significant when it excludes 0.
  Weak evidence, and the verdict says which method was used.
- one sample on either side: never significant ("1 sample").
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbbench.errors import ConfigError
from lbbench.results.files import ResultError, read_result
from lbbench.results.metrics import METRICS, Metric

ALPHA = 0.05
MIN_MANN_WHITNEY = 4
BOOTSTRAP_RESAMPLES = 10_000


@dataclass(frozen=True)
class Verdict:
    significant: bool
    method: str  # mann-whitney, bootstrap, or why none
    p_value: float | None = None
    interval: tuple[float, float] | None = None


def significance(a: list[float], b: list[float], seed: int = 0) -> Verdict:
    """Is the difference between samples ``a`` and ``b`` more than noise?"""
    if len(a) < 2 or len(b) < 2:
        return Verdict(False, f"{min(len(a), len(b))} sample: not testable")
    if len(a) >= MIN_MANN_WHITNEY and len(b) >= MIN_MANN_WHITNEY:
        from scipy.stats import mannwhitneyu

        if len(set(a) | set(b)) == 1:
            return Verdict(False, "mann-whitney", 1.0)
        p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
        return Verdict(p < ALPHA, "mann-whitney", p)
    rng = random.Random(seed)
    diffs = sorted(
        statistics.fmean(rng.choices(b, k=len(b))) - statistics.fmean(rng.choices(a, k=len(a)))
        for _ in range(BOOTSTRAP_RESAMPLES)
    )
    low = diffs[int(0.025 * BOOTSTRAP_RESAMPLES)]
    high = diffs[int(0.975 * BOOTSTRAP_RESAMPLES) - 1]
    return Verdict(low > 0 or high < 0, "bootstrap", None, (low, high))


def in_words(metric: Metric, base: float, other: float) -> str:
    """How ``other`` compares with ``base``: "1.18x slower", "2.30x faster", "+0.020"."""
    if metric.kind == "index":
        return f"{other - base:+.3f}"
    if base == other:
        return "same"
    if base <= 0 or other <= 0:
        return f"{base:g} -> {other:g}"
    ratio = other / base
    if metric.kind == "time":
        return f"{ratio:.2f}x slower" if ratio > 1 else f"{1 / ratio:.2f}x faster"
    if metric.kind == "count":
        return f"{ratio:.2f}x more" if ratio > 1 else f"{1 / ratio:.2f}x fewer"
    return f"{ratio:.2f}x higher" if ratio > 1 else f"{1 / ratio:.2f}x lower"


def relative_change(metric: Metric, base: float, other: float) -> float:
    """The change as a fraction of the base (indexes: the absolute difference)."""
    if metric.kind == "index":
        return other - base
    return (other - base) / base if base else 0.0


def result_files(folder: Path) -> list[Path]:
    """The result files of a folder: its ``*.json``, less hidden ones (a writer's
    temporary file, an editor's backup) that are not result sets."""
    return sorted(f for f in folder.glob("*.json") if not f.name.startswith("."))


def load_sets(paths: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """Result sets from files, or from every ``*.json`` in folders."""
    sets = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files = result_files(path)
            if not files:
                raise ResultError(name, "no result files (*.json) in this folder")
            sets.extend((str(f), read_result(f)) for f in files)
        elif path.exists():
            sets.append((name, read_result(path)))
        else:
            raise ResultError(name, "no such file or folder")
    return sets


def merge_scenarios(sets: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Scenarios by key; the same key in several files pools their samples."""
    merged: dict[str, dict[str, Any]] = {}
    for _, data in sets:
        for scenario in data["scenarios"]:
            entry = merged.setdefault(
                scenario["key"],
                {"name": scenario.get("name", scenario["key"]), "samples": {}, "valid": True},
            )
            entry["valid"] = entry["valid"] and scenario["valid"]
            for key, values in scenario["samples"].items():
                entry["samples"].setdefault(key, []).extend(values)
    return merged


def environment_warnings(sets: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Differences in where the sets were measured, which weaken any comparison."""
    warnings = []
    first_name, first = sets[0]
    base = first["environment"]
    for name, data in sets[1:]:
        env = data["environment"]
        for key in ("python", "cpu_count", "platform", "git_commit"):
            if env.get(key) != base.get(key):
                warnings.append(
                    f"{key} differs: {base.get(key)} ({first_name}) vs {env.get(key)} ({name})"
                )
        packages = env.get("packages", {})
        for package, version in base.get("packages", {}).items():
            if packages.get(package) != version:
                theirs = packages.get(package)
                warnings.append(f"{package} differs: {version} ({first_name}) vs {theirs} ({name})")
    return warnings


Row = dict[str, Any]


def compare(
    base: dict[str, dict[str, Any]],
    other: dict[str, dict[str, Any]],
    metrics: Iterable[str] = METRICS,
) -> list[Row]:
    """One row per matched scenario and metric with samples on both sides."""
    rows: list[Row] = []
    for key in sorted(set(base) & set(other)):
        for name in metrics:
            metric = METRICS[name]
            a = base[key]["samples"].get(metric.sample, [])
            b = other[key]["samples"].get(metric.sample, [])
            if not a or not b:
                continue
            a_mid, b_mid = statistics.median(a), statistics.median(b)
            verdict = significance(a, b)
            rows.append(
                {
                    "key": key,
                    "scenario": base[key]["name"],
                    "metric": name,
                    "unit": metric.unit,
                    "base": a_mid,
                    "other": b_mid,
                    "base_samples": len(a),
                    "other_samples": len(b),
                    "change": relative_change(metric, a_mid, b_mid),
                    "in_words": in_words(metric, a_mid, b_mid),
                    "worse": (b_mid > a_mid) == metric.lower_is_better and a_mid != b_mid,
                    "significant": verdict.significant,
                    "method": verdict.method,
                    "p_value": verdict.p_value,
                    "interval": verdict.interval,
                    "valid": base[key]["valid"] and other[key]["valid"],
                }
            )
    return rows


@dataclass(frozen=True)
class Threshold:
    metric: Metric
    limit: float  # signed: +0.10 means "10 % worse than baseline fails"
    percent: bool

    def breached(self, row: Row) -> bool:
        """Whether the change from base to other goes past the limit, in the bad direction."""
        difference = row["other"] - row["base"]
        if self.percent:
            difference = difference / row["base"] if row["base"] else 0.0
        return difference > self.limit if self.limit > 0 else difference < self.limit


def parse_thresholds(text: str, where: str = "--fail-on") -> list[Threshold]:
    """``"p99:+10%,throughput:-5%,jain:-0.02"``: the worst tolerated change per metric.

    With ``%`` the change is relative to the baseline; without, it is in the
    metric's own unit (ms, req/s, or index points).
    """
    thresholds = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, amount = part.partition(":")
        if not sep or name not in METRICS:
            known = ", ".join(METRICS)
            raise ConfigError(
                where, f"{part!r}: expected METRIC:+N% or METRIC:-N (metrics: {known})"
            )
        percent = amount.endswith("%")
        try:
            value = float(amount.rstrip("%"))
        except ValueError:
            raise ConfigError(where, f"{part!r}: {amount!r} is not a number") from None
        if value == 0 or not amount.startswith(("+", "-")):
            raise ConfigError(
                where, f"{part!r}: give a signed, non-zero change such as +10% or -0.02"
            )
        metric = METRICS[name]
        if (value > 0) != metric.lower_is_better:
            direction = "+" if metric.lower_is_better else "-"
            raise ConfigError(
                where, f"{part!r}: a regression of {name} is {direction}, not {amount[0]}"
            )
        thresholds.append(Threshold(metric, value / 100 if percent else value, percent))
    if not thresholds:
        raise ConfigError(where, "no thresholds given")
    return thresholds


def gate(rows: list[Row], thresholds: list[Threshold]) -> list[Row]:
    """The rows that fail: beyond their threshold and significant."""
    by_metric: dict[str, Threshold] = {t.metric.name: t for t in thresholds}
    failures = []
    for row in rows:
        threshold = by_metric.get(row["metric"])
        if threshold is not None and threshold.breached(row):
            row = {**row, "breached": True}
            if row["significant"]:
                failures.append(row)
    return failures
