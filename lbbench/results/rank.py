"""Rank the scenarios of one experiment by an objective, with significance and effect sizes.

An experiment is the scenarios of one ``[[scenario]]`` of a suite (its
matrix cells), or, for results without one, the scenarios that share a
fleet and a load; live and simulated results are never ranked together.
The objective is one metric or several in order (lexicographic: the
second decides only among scenarios the first cannot tell apart).

The test: for each metric, every pair of scenarios is compared on their
per-trial samples with a two-sided Mann-Whitney U test (no distribution is
assumed: per-trial percentiles and rates are not normal), and the p-values
of all pairs are adjusted with Holm's step-down method, which keeps the
chance of any false "different" at alpha over the whole family. Scenarios
are ordered by median; a group starts at the best not yet placed and takes
every following scenario not significantly different from it. Scott-Knott
ESD would give non-overlapping groups too, but it assumes normal samples,
which a handful of tail-latency trials are not.

Effect sizes against the best: the difference of medians (relative for
times and rates, in points for indexes), a 95 % bootstrap interval of that
difference, and Cliff's delta (the probability that a trial of one is
better minus the reverse, from U). With too few trials no pair can reach
significance after the correction (Mann-Whitney's smallest two-sided p
with n and m trials is 2 / C(n + m, n)); the ranking is then refused, with
the number of trials that would do.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lbbench.results.metrics import METRICS, Metric, metric

ALPHA = 0.05
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Effect:
    """One scenario against the best on one metric."""

    difference: float  # median of this minus median of the best (its unit)
    relative: float | None  # difference / best's median (times and rates)
    interval: tuple[float, float]  # 95 % bootstrap interval of the difference
    cliffs_delta: float  # > 0: this one's trials are worse more often than better
    p_adjusted: float  # Holm-adjusted Mann-Whitney p against the best


@dataclass
class Row:
    key: str
    name: str
    cell: Mapping[str, str]
    valid: bool
    samples: dict[str, list[float]]
    medians: dict[str, float] = field(default_factory=dict)
    group: tuple[int, ...] = ()
    effects: dict[str, Effect] = field(default_factory=dict)


@dataclass
class Ranking:
    experiment: str
    by: tuple[str, ...]
    rows: list[Row]
    refused: str = ""
    answer: str = ""
    method: str = "two-sided Mann-Whitney U per metric, Holm over all pairs, alpha 0.05"

    @property
    def best(self) -> Row | None:
        return self.rows[0] if self.rows and not self.refused else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "by": list(self.by),
            "method": self.method,
            "refused": self.refused,
            "answer": self.answer,
            "rows": [
                {
                    "position": index + 1,
                    "key": row.key,
                    "name": row.name,
                    "cell": dict(row.cell),
                    "valid": row.valid,
                    "group": list(row.group),
                    "trials": {m: len(row.samples.get(METRICS[m].sample, [])) for m in self.by},
                    "medians": row.medians,
                    "against_best": {name: effect.__dict__ for name, effect in row.effects.items()},
                }
                for index, row in enumerate(self.rows)
            ],
        }


# ---------------------------------------------------------------- experiments


def experiments(
    sets: Iterable[tuple[str, Mapping[str, Any]]], within: Sequence[str] = ()
) -> dict[str, list[Row]]:
    """Scenarios of result sets by experiment; the same key in several sets pools its trials.

    ``within``: matrix axes that split an experiment, one per combination of their
    values (``within = ["load"]`` ranks the strategies at each load, not across loads).
    """
    rows: dict[str, Row] = {}
    label_of: dict[str, str] = {}
    for _, data in sets:
        for scenario in data["scenarios"]:
            key = scenario["key"]
            sim = " (simulated)" if scenario.get("simulated") else ""
            key_in_set = key + sim
            row = rows.get(key_in_set)
            if row is None:
                row = rows[key_in_set] = Row(
                    key, scenario.get("name", key), scenario.get("cell", {}), True, {}
                )
                group = scenario.get("group", "") or _fleet_and_load(key)
                cell = scenario.get("cell", {})
                split = [axis for axis in within if axis in cell]
                for axis in split:  # "{strategy} at load {load}" becomes "<strategy> at load 1.2"
                    group = group.replace(f"{{{axis}}}", cell[axis])
                group = group.replace("{", "<").replace("}", ">")
                if split and not any(cell[axis] in group for axis in split):
                    group += " at " + ", ".join(f"{axis} {cell[axis]}" for axis in split)
                label_of[key_in_set] = group + sim
            row.valid = row.valid and scenario["valid"]
            for sample, values in scenario["samples"].items():
                row.samples.setdefault(sample, []).extend(values)
    grouped: dict[str, list[Row]] = {}
    for key_in_set, row in rows.items():
        grouped.setdefault(label_of[key_in_set], []).append(row)
    return grouped


def _fleet_and_load(key: str) -> str:
    parts = key.split("/")
    return f"{parts[0]}, {parts[3]}" if len(parts) >= 4 else key


# ---------------------------------------------------------------- statistics


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(two-sided p, U of ``a``); p = 1 when the samples cannot be told apart at all."""
    from scipy.stats import mannwhitneyu

    if len(set(a) | set(b)) == 1:
        return 1.0, len(a) * len(b) / 2
    result = mannwhitneyu(a, b, alternative="two-sided")
    return float(result.pvalue), float(result.statistic)


def holm(p_values: Mapping[Any, float]) -> dict[Any, float]:
    """Holm's step-down adjusted p-values (monotone, capped at 1)."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    m = len(ordered)
    adjusted: dict[Any, float] = {}
    running = 0.0
    for index, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - index) * p))
        adjusted[name] = running
    return adjusted


def smallest_p(n: int, m: int) -> float:
    """The smallest two-sided p-value Mann-Whitney can give with n and m trials (no ties)."""
    return min(1.0, 2.0 / math.comb(n + m, n))


def trials_needed(scenarios: int, alpha: float = ALPHA) -> int:
    """Trials per scenario for the smallest p to pass alpha after Holm over every pair."""
    pairs = scenarios * (scenarios - 1) // 2
    n = 2
    while smallest_p(n, n) >= alpha / max(1, pairs):
        n += 1
    return n


def _better_first(values: list[float], chosen: Metric) -> float:
    median = statistics.median(values)
    return median if chosen.lower_is_better else -median


def _cliffs_delta(u_of_other: float, n_other: int, n_best: int, chosen: Metric) -> float:
    """P(other's trial worse) - P(better), from the U statistic of the other scenario."""
    larger = 2 * u_of_other / (n_other * n_best) - 1  # P(other > best) - P(other < best)
    return larger if chosen.lower_is_better else -larger


def _interval(best: list[float], other: list[float], seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    differences = sorted(
        statistics.median(rng.choices(other, k=len(other)))
        - statistics.median(rng.choices(best, k=len(best)))
        for _ in range(BOOTSTRAP)
    )
    return differences[int(0.025 * BOOTSTRAP)], differences[int(0.975 * BOOTSTRAP) - 1]


# ---------------------------------------------------------------- ranking


Family = dict[frozenset[int], float]  # Holm-adjusted p of every pair of scenarios, by their ids


def family(rows: list[Row], chosen: Metric) -> Family:
    """Every pair compared on ``chosen`` and the p-values adjusted together (Holm)."""
    values = {id(r): r.samples.get(chosen.sample, []) for r in rows}
    raw = {
        frozenset((id(a), id(b))): mann_whitney(values[id(a)], values[id(b)])[0]
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
    }
    return holm(raw) if raw else {}


def _groups(rows: list[Row], chosen: Metric, adjusted: Family, alpha: float) -> list[list[Row]]:
    """``rows`` in groups by ``chosen``: each group a leader and those not different from it."""
    ordered = sorted(rows, key=lambda r: _better_first(r.samples.get(chosen.sample, []), chosen))
    groups: list[list[Row]] = []
    left = list(ordered)
    while left:
        leader = left.pop(0)
        group = [leader]
        for row in list(left):
            if adjusted.get(frozenset((id(leader), id(row))), 1.0) >= alpha:
                group.append(row)
                left.remove(row)
        groups.append(group)
    return groups


def _order(
    rows: list[Row],
    by: Sequence[Metric],
    families: Mapping[str, Family],
    alpha: float,
    prefix: tuple[int, ...],
) -> list[Row]:
    """Lexicographic: groups by the first metric, each ordered by the rest.

    Every metric's family of tests is over all the experiment's pairs, also
    when it orders a group: the p-values reported are the ones that decided.
    """
    if not by:
        return rows
    ordered: list[Row] = []
    groups = _groups(rows, by[0], families[by[0].name], alpha)
    for number, group in enumerate(groups, start=1):
        for row in group:
            row.group = (*prefix, number)
        if len(group) > 1:
            group = _order(group, by[1:], families, alpha, (*prefix, number))
        ordered.extend(group)
    return ordered


def rank(rows: list[Row], by: Sequence[str], experiment: str = "", alpha: float = ALPHA) -> Ranking:
    """Order ``rows`` (one experiment) by the metrics ``by``; refuse if trials cannot tell."""
    chosen = [metric(name) for name in by]
    ranking = Ranking(experiment, tuple(by), rows)
    if len(rows) < 2:
        ranking.refused = "one scenario: nothing to rank"
        return ranking
    counts = [len(r.samples.get(chosen[0].sample, [])) for r in rows]
    pairs = len(rows) * (len(rows) - 1) // 2
    low = sorted(counts)[:2]
    if min(counts) == 0:
        empty = [r.name for r, n in zip(rows, counts, strict=True) if n == 0]
        ranking.refused = f"no {by[0]} samples for {', '.join(empty)}"
        return ranking
    if smallest_p(low[0], low[1]) >= alpha / pairs:
        needed = trials_needed(len(rows), alpha)
        ranking.refused = (
            f"too few trials to tell {len(rows)} scenarios apart: with {low[0]} trials the "
            f"smallest Mann-Whitney p is {smallest_p(low[0], low[1]):.3g}, above "
            f"alpha / {pairs} pairs = {alpha / pairs:.3g} (Holm); run at least {needed} "
            f"trials per scenario (--trials {needed})"
        )
        return ranking
    for row in rows:
        row.medians = {
            m.name: statistics.median(row.samples[m.sample])
            for m in chosen
            if row.samples.get(m.sample)
        }
    families = {m.name: family(rows, m) for m in chosen}
    ranking.rows = _order(rows, chosen, families, alpha, ())
    _effects(ranking, chosen, families)
    ranking.answer = answer(ranking)
    return ranking


def _effects(ranking: Ranking, chosen: list[Metric], families: Mapping[str, Family]) -> None:
    best = ranking.rows[0]
    for m in chosen:
        values = {id(r): r.samples.get(m.sample, []) for r in ranking.rows}
        for index, row in enumerate(ranking.rows[1:], start=1):
            if not values[id(row)] or not values[id(best)]:
                continue
            _, u_of_row = mann_whitney(values[id(row)], values[id(best)])
            difference = row.medians[m.name] - best.medians[m.name]
            base = best.medians[m.name]
            row.effects[m.name] = Effect(
                difference=difference,
                relative=difference / base if m.kind != "index" and base else None,
                interval=_interval(values[id(best)], values[id(row)], seed=index),
                cliffs_delta=_cliffs_delta(
                    u_of_row, len(values[id(row)]), len(values[id(best)]), m
                ),
                p_adjusted=families[m.name][frozenset((id(row), id(best)))],
            )


def _amount(m: Metric, value: float) -> str:
    unit = f" {m.unit}" if m.unit else ""
    return f"{value:.4g}{unit}"


def _names(rows: list[Row], total: int = 0) -> str:
    """ "a", "a and b", "a, b and c"; "all 12 scenarios" or "a and 5 others" when long."""
    names = [r.name for r in rows]
    if total and len(names) == total and total > 3:
        return f"all {total} scenarios"
    if len(names) > 4:
        return f"{names[0]} and {len(names) - 1} others"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _lead(m: Metric) -> str:
    return "lowest" if m.lower_is_better else "highest"


def _margin(m: Metric, effect: Effect) -> str:
    """How far the best is from another: "38 % below", "0.02 points below"."""
    side = "below" if m.lower_is_better else "above"
    if effect.relative is not None:
        return f"{abs(effect.relative) / (1 + effect.relative):.0%} {side}"
    return f"{abs(effect.difference):.3g} points {side}"


def answer(ranking: Ranking) -> str:
    """The ranking in plain words: who wins, by how much over whom, and who is tied.

    Metric by metric (lexicographic): the leaders on the first, then, among
    them, on the next, each with its margin over the first one it beat.
    """
    by = [metric(name) for name in ranking.by]
    rows = ranking.rows
    best = rows[0]
    candidates = rows
    parts: list[str] = []
    undecided: list[str] = []  # metrics on which the candidates could not be told apart
    for level, m in enumerate(by):
        leaders = [r for r in candidates if r.group[: level + 1] == best.group[: level + 1]]
        beaten = next((r for r in candidates if r not in leaders), None)
        if beaten is None:
            undecided.append(m.name)
            continue
        if undecided:
            names = _names(candidates, len(rows) if candidates is rows else 0)
            parts.append(f"{names} do not differ significantly on {' or '.join(undecided)}")
            undecided = []
        head = "of those, " if candidates is not rows else ""
        amount = _amount(m, best.medians[m.name])
        if len(leaders) == 1:
            part = f"{head}{best.name} has the {_lead(m)} {m.name} ({amount})"
        else:
            part = (
                f"{head}{_names(leaders)} have the {_lead(m)} {m.name} ({amount} for "
                f"{best.name}), not significantly different from each other"
            )
        effect = beaten.effects.get(m.name)
        if effect is not None:
            part += (
                f", {_margin(m, effect)} the next, {beaten.name} "
                f"({_amount(m, beaten.medians[m.name])}; p = {effect.p_adjusted:.2g}, "
                "Holm-adjusted Mann-Whitney)"
            )
        parts.append(part)
        candidates = leaders
        if len(candidates) == 1:
            break
    if undecided:
        names = _names(candidates, len(rows) if candidates is rows else 0)
        parts.append(f"{names} do not differ significantly on {' or '.join(undecided)}")
    if len(candidates) > 1:
        parts.append(f"{best.name} has the best median")
    return "; ".join(parts) + "."
