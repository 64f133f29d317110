"""The one builder of results: a trial's result, a scenario's entry over its trials.

Every rig (the live ZeroMQ rig, the gRPC rig, the simulator, a Locust run)
hands over what its generator recorded (a ``Recorder`` in a report) and
what the balancing side reported (a ``RouterView``), and gets the same
shape back, so every result set reads alike (README, "Result files").
The per-trial samples that comparisons test come from the metrics
registry (``lbbench.results.metrics``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lbbench.results.balancers import balancer_figures, balancers_over_trials
from lbbench.results.measures import failover_timing, fairness
from lbbench.results.metrics import samples as metric_samples
from lbbench.results.recorder import Recorder, decode, encode, new_histogram, summarize
from lbbench.scenario.scenario import Scenario
from lbbench.vocabulary import OK, OUTCOMES, TRIAL_COUNTERS, Health

# Fault kinds that are conditions rather than failures: no detection or recovery time.
BACKGROUND_FAULTS = ("antagonist",)

# (time, {backend: attempts sent so far}), taken while the load ran
Sample = tuple[float, Mapping[str, int]]


class GeneratorReport(Protocol):
    """What a load generator hands over: its recorder, its problems, its own account."""

    recorder: Recorder
    problems: list[str]

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class RouterView:
    """What the balancing side reported about a trial: per-backend counts and failover work.

    From the lbbench router it is its snapshot (``from_snapshot``); grpcio
    tells nothing, so the gRPC rig builds one from what its client saw.
    """

    attempts: Mapping[str, int]
    errors: Mapping[str, int] = field(default_factory=dict)
    timeouts: Mapping[str, int] = field(default_factory=dict)
    counters: Mapping[str, int] = field(default_factory=dict)
    strategy_status: Mapping[str, Any] = field(default_factory=dict)
    rif_counts: Mapping[str, int] = field(default_factory=dict)  # empty: nobody counted (grpcio)

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> RouterView:
        """From ``Router.snapshot()`` (the balancer's ``stats`` answer)."""
        backends = snapshot["backends"]
        return cls(
            attempts={b["id"]: b["sent"] for b in backends},
            errors={b["id"]: b["errors"] for b in backends},
            timeouts={b["id"]: b["timeouts"] for b in backends},
            counters=snapshot["stats"],
            strategy_status=snapshot.get("strategy_status", {}),
            rif_counts=snapshot.get("rif_counts", {}),
        )

    @classmethod
    def merged(cls, views: Sequence[RouterView]) -> RouterView:
        """The fleet's view over several balancers sharing it: every count summed (the
        strategy status is the first balancer's, as an example of them)."""
        return cls(
            attempts=_summed([v.attempts for v in views]),
            errors=_summed([v.errors for v in views]),
            timeouts=_summed([v.timeouts for v in views]),
            counters=_summed([v.counters for v in views]),
            strategy_status=views[0].strategy_status if views else {},
            rif_counts=_summed([v.rif_counts for v in views]),
        )


def shared_fleet(
    scenario: Scenario,
    snapshots: Sequence[Mapping[str, Any]],
    events: Sequence[Sequence[Mapping[str, Any]]],
) -> tuple[RouterView, list[dict[str, Any]], dict[str, Any]]:
    """What several balancers sharing a fleet reported, as one trial sees it: the fleet's
    view (every count summed), their health events in time order, each tagged with its
    balancer (joins left out: every balancer sees every target join), and the trial's
    ``balancers`` part (``balancer_figures``). ``snapshots`` and ``events`` are the
    balancers' own, in their order (the simulator's routers, the live balancers' stats).

    The summed requests-in-flight counts are left out: each balancer counted only its
    own requests at a backend, and their sum is not the backend's queue. The caller
    puts in the fleet's own count where it has one (the simulator does).
    """
    view = RouterView.merged([RouterView.from_snapshot(s) for s in snapshots])
    view.rif_counts = {}
    tagged = sorted(
        ({**e, "balancer": index} for index, log in enumerate(events) for e in log
         if e["kind"] != Health.JOIN),
        key=lambda e: e["at"],
    )  # fmt: skip
    return view, tagged, balancer_figures(scenario, snapshots, events)


def _summed(tables: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Tables of counts added key by key (nested tables too)."""
    total: dict[str, Any] = {}
    for table in tables:
        for key, value in table.items():
            if isinstance(value, Mapping):
                total[key] = _summed([total.get(key, {}), value])
            else:
                total[key] = total.get(key, 0) + value
    return total


def trial_result(
    scenario: Scenario,
    seed: int,
    start: float,
    report: GeneratorReport,
    view: RouterView,
    events: Sequence[Mapping[str, Any]],
    samples: Sequence[Sample],
    problems: list[str],
    failure: str | None = None,
    unaccounted: int | None = None,
    machine: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One trial's result from what the generator recorded and the balancing side reported.

    ``start`` is when the load started on the clock of ``events`` and
    ``samples``. When the samples cover only some backends (the
    simulator's large fleets), the per-backend attempts timeline is left
    out and failover timing uses them as they are (their total stands for
    the whole fleet's). ``failure`` is why the rig broke mid-trial (a
    process died): the trial is invalid and says so in ``rig_failure``,
    with the requests in flight that got no answer (``unanswered``) and,
    when a generator died with its counts, the requests the balancer
    received that no surviving generator accounts for (``unaccounted``;
    None when nobody could count them). ``machine``: what else used the
    machine's CPU meanwhile (``lbbench.rigs.machine``; live rigs only).
    """
    recorder = report.recorder
    duration = scenario.load.duration_s
    rig_failure = None
    if failure is not None:
        rig_failure = {
            "reason": failure,
            "unanswered": recorder.lost,
            "unaccounted": unaccounted,
        }
        problems = [f"rig failure: {failure}", *problems]
    problems = problems + [
        f"fault {f.kind} on {f.target} at {f.at_s:g} s starts after the load ended "
        f"({duration:g} s): nothing measured it"
        for f in scenario.profile.faults
        if f.at_s >= duration
    ]
    requests = {"sent": recorder.sent, **dict(recorder.outcomes), "lost": recorder.lost}
    expected = scenario.expected_shares()
    attempts = view.attempts
    total_attempts = sum(attempts.values()) or 1
    backends = [
        {
            "id": spec.id,
            "weight": spec.weight,
            "tier": spec.tier,
            "attempts": attempts.get(spec.id, 0),
            "share": attempts.get(spec.id, 0) / total_attempts,
            "expected_share": expected[spec.id],
            "served_ok": recorder.served_by.get(spec.id, 0),
            "errors": view.errors.get(spec.id, 0),
            "timeouts": view.timeouts.get(spec.id, 0),
        }
        for spec in scenario.profile.targets
    ]
    faults = []
    for fault in scenario.profile.faults:
        if fault.kind in BACKGROUND_FAULTS:
            continue  # load the fleet lives with, not a failure to detect and recover from
        timing = failover_timing(
            fault.target,
            start + fault.at_s,
            None if fault.end_s is None else start + fault.end_s,
            expected[fault.target],
            samples,
            events,
        )
        faults.append(
            {
                "target": fault.target,
                "kind": fault.kind,
                "at_s": fault.at_s,
                "duration_s": fault.duration_s,
                **timing,
            }
        )
    answered = recorder.answered
    ok = recorder.outcomes[OK]
    ids = [spec.id for spec in scenario.profile.targets]
    return {
        "seed": seed,
        "valid": not problems,
        "problems": problems,
        "rig_failure": rig_failure,
        "requests": requests,
        "throughput_rps": ok / duration,
        "answered_rps": answered / duration,
        "error_rate": (answered - ok) / answered if answered else 0.0,
        "latency_ms": {
            "corrected": summarize(recorder.corrected),
            "uncorrected": summarize(recorder.uncorrected),
        },
        "backends": backends,
        "fairness": fairness(attempts, expected),
        "rif": requests_in_flight(view.rif_counts),
        "failover": {
            **{name: view.counters.get(name, 0) for name in TRIAL_COUNTERS},
            "faults": faults,
        },
        "strategy_status": dict(view.strategy_status),
        "generator": report.as_dict(),
        "machine": None if machine is None else dict(machine),
        "events": [{**e, "at": e["at"] - start} for e in events if e["kind"] not in (Health.JOIN,)],
        "timeline": {
            "step_s": 0.1,
            "outcomes": [
                [bucket * 0.1, *(recorder.timeline[bucket].get(s, 0) for s in OUTCOMES)]
                for bucket in sorted(recorder.timeline)
            ],
            "attempts": [
                [t - start, [sent.get(i, 0) for i in ids]]
                for t, sent in samples
                if len(sent) == len(ids)
            ],
        },
        "histograms": {
            "corrected": encode(recorder.corrected),
            "uncorrected": encode(recorder.uncorrected),
        },
    }


def lean_trial(trial: dict[str, Any]) -> dict[str, Any]:
    """A trial without what a sweep of thousands of scenarios cannot keep: its timelines,
    health events and per-backend rows (the scenario's summary keeps the merged rows).
    Its figures, histograms and samples stay, so tables, rankings, maps and comparisons
    read it as any other; ``lean`` says what is missing (with several balancers, their
    rows go too: their agreement stays)."""
    lean = {
        **trial,
        "lean": True,
        "backends": [],
        "events": [],
        "timeline": {"step_s": trial["timeline"]["step_s"], "outcomes": [], "attempts": []},
    }
    if "balancers" in trial:
        lean["balancers"] = {**trial["balancers"], "rows": []}
    return lean


def requests_in_flight(counts: Mapping[str, int]) -> dict[str, Any]:
    """Quantiles of the requests in flight each attempt joined at its backend.

    ``counts`` maps a RIF (as a string, JSON's keys) to how many attempts
    joined it; the quantiles are None when nobody counted (grpcio's rig).
    """
    pairs = sorted((int(rif), count) for rif, count in counts.items())
    total = sum(count for _, count in pairs)

    def quantile(q: float) -> int | None:
        if not total:
            return None
        rank = q * total
        seen = 0
        for rif, count in pairs:
            seen += count
            if seen >= rank:
                return rif
        return pairs[-1][0]

    return {
        "counts": {str(rif): count for rif, count in pairs},
        "mean": sum(r * c for r, c in pairs) / total if total else None,
        "p50": quantile(0.5),
        "p99": quantile(0.99),
        "p99.9": quantile(0.999),
        "max": pairs[-1][0] if pairs else None,
    }


def _merged_counts(trials: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for trial in trials:
        for rif, count in trial.get("rif", {}).get("counts", {}).items():
            merged[rif] = merged.get(rif, 0) + count
    return merged


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize_trials(scenario: Scenario, trials: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's summary over its trials: histograms merged, counts summed."""
    corrected = new_histogram()
    uncorrected = new_histogram()
    for trial in trials:
        corrected.add(decode(trial["histograms"]["corrected"]))
        uncorrected.add(decode(trial["histograms"]["uncorrected"]))
    requests = {key: sum(t["requests"][key] for t in trials) for key in trials[0]["requests"]}
    attempts: dict[str, int] = {}
    for trial in trials:
        for backend in trial["backends"]:
            attempts[backend["id"]] = attempts.get(backend["id"], 0) + backend["attempts"]
    total = sum(attempts.values()) or 1
    backends = [
        {**b, "attempts": attempts[b["id"]], "share": attempts[b["id"]] / total}
        for b in trials[0]["backends"]
    ]
    faults = []
    for index, fault in enumerate(trials[0]["failover"]["faults"]):
        detections = [t["failover"]["faults"][index]["detection_s"] for t in trials]
        recoveries = [t["failover"]["faults"][index]["recovery_s"] for t in trials]
        faults.append(
            {
                **{k: fault[k] for k in ("target", "kind", "at_s", "duration_s")},
                "detection_s": _mean([d for d in detections if d is not None]),
                "recovery_s": _mean([r for r in recoveries if r is not None]),
                "detected_in": sum(d is not None for d in detections),
                "trials": len(trials),
            }
        )
    summary: dict[str, Any] = {
        "requests": requests,
        "throughput_rps": sum(t["throughput_rps"] for t in trials) / len(trials),
        "error_rate": sum(t["error_rate"] for t in trials) / len(trials),
        "latency_ms": {"corrected": summarize(corrected), "uncorrected": summarize(uncorrected)},
        "backends": backends,
        "fairness": fairness(attempts, scenario.expected_shares()),
        "rif": requests_in_flight(_merged_counts(trials)),
        "failover": {
            **{c: sum(t["failover"].get(c, 0) for t in trials) for c in TRIAL_COUNTERS},
            "faults": faults,
        },
        "histograms": {"corrected": encode(corrected), "uncorrected": encode(uncorrected)},
    }
    if "balancers" in trials[0]:
        summary["balancers"] = balancers_over_trials([t["balancers"] for t in trials])
    return summary


def scenario_entry(
    scenario: Scenario,
    trials: list[dict[str, Any]],
    *,
    simulated: bool = False,
    rig_latency: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A scenario's entry in a result set, from its trials (however they were run).

    ``rig_latency``: the live rig's own latency under this load, measured
    before the trials (``lbbench.rigs.calibration``); None when simulated.
    """
    problems = [f"trial {i + 1}: {p}" for i, t in enumerate(trials) for p in t["problems"]]
    return {
        "key": scenario.key,
        "name": scenario.name,
        "group": scenario.group,
        "cell": dict(scenario.cell),
        "profile": scenario.profile.name,
        "profile_source": scenario.profile.source,
        "strategy": scenario.strategy,
        "balancer": scenario.balancer,
        "balancer_options": dict(scenario.balancer_options),
        "balancers": scenario.balancers,
        "balancers_split": scenario.balancers_split,
        "strategy_options": dict(scenario.strategy_options),
        "failover": "+".join(scenario.failover),
        "deadline_s": scenario.deadline_s,
        "settings": dict(scenario.settings),
        "router_settings": scenario.resolved_settings(),
        "load": scenario.load.as_dict(),
        "faults": [
            {"target": f.target, "kind": f.kind, "at_s": f.at_s, "duration_s": f.duration_s}
            for f in scenario.profile.faults
        ],
        "seed": scenario.seed,
        "trials_run": scenario.trials,
        "simulated": simulated,
        "valid": not problems,
        "problems": problems,
        "summary": summarize_trials(scenario, trials),
        "rig_latency": None if rig_latency is None else dict(rig_latency),
        "samples": metric_samples(trials),
        "trials": trials,
    }
