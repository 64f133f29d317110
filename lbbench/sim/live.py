"""Live against simulated: replay a live result set's scenarios in the simulator.

Each scenario of a live ``lbbench.run/1`` file is rebuilt from what the
file records (profile, strategy and options, failover, load, deadline,
seed, trials) and simulated. The simulated set has the same scenario keys,
so ``lbbench compare LIVE SIM`` works on it too. The checks: throughput,
mean and p50 within 5 % per scenario, and the same order of strategies by p99
within each group of scenarios that differ only in strategy (for every
pair whose live p99s differ by more than 5 %; closer ones are a tie).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from typing import Any

from lbbench.errors import ConfigError
from lbbench.results.files import read_result
from lbbench.rigs.base import run_scenario
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, load_profile
from lbbench.scenario.scenario import Scenario
from lbbench.sim.options import SimOptions
from lbbench.sim.rig import SimRig
from lbbench.sim.validate import Check

AGREEMENT = 0.05  # mean and p50; throughput too
TIE = 0.05  # live p99s closer than this are not ordered


def _profile(entry: dict[str, Any], where: str) -> FleetProfile:
    # The recorded path may be from another checkout; the name is the fallback.
    for name in (entry.get("profile_source"), entry.get("profile")):
        if name:
            try:
                return load_profile(name)
            except ConfigError:
                continue
    raise ConfigError(
        where, f"profile {entry.get('profile')!r} not found (in targets/ or as a path)"
    )


def scenario_from_entry(entry: dict[str, Any], where: str) -> Scenario:
    """The scenario a result entry was measured with."""
    try:
        return Scenario(
            name=entry["name"],
            profile=_profile(entry, where),
            strategy=entry["strategy"],
            failover=tuple(entry["failover"].split("+")),
            load=LoadSpec(**entry["load"]),
            strategy_options=tuple(sorted(entry.get("strategy_options", {}).items())),
            seed=entry["seed"],
            trials=entry.get("trials_run", 1),
            deadline_s=entry.get("deadline_s", 1.0),
            settings=tuple(entry.get("settings", {}).items()),
            balancer=entry.get("balancer", "lbbench"),
            balancer_options=tuple(sorted(entry.get("balancer_options", {}).items())),
            balancers=entry.get("balancers", 1),
            balancers_split=entry.get("balancers_split", "even"),
        )
    except (KeyError, TypeError) as error:
        raise ConfigError(where, f"cannot rebuild the scenario: {error}") from None


def measured_hop(entry: dict[str, Any]) -> tuple[float, str] | None:
    """The hop delay (seconds) of a live scenario's rig, and where it comes from; None if
    it has no valid measure of it.

    Its trials' own (``rig_overhead``, measured in the trial: the clients' mean
    latency less the time the targets held the requests) when every trial has
    one, their mean; else its rig calibration, which sent the scenario's load
    through a rig of its own to targets that do no work. Either is what the
    four hops (client to balancer to target and back) cost at that rate, so
    each is a quarter.
    """
    own = [(t.get("rig_overhead") or {}).get("mean_ms") for t in entry.get("trials", [])]
    if own and all(isinstance(m, int | float) and m > 0 for m in own):
        return sum(own) / len(own) / 4 / 1e3, "trials"
    rig = entry.get("rig_latency") or {}
    latency = rig.get("latency_ms")
    if not rig.get("valid") or not latency or latency.get("mean", 0) <= 0:
        return None
    return latency["mean"] / 4 / 1e3, "calibration"


def live_entries(data: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The live scenarios of a result set read from ``where`` (a ConfigError if none)."""
    live = [s for s in data["scenarios"] if not s.get("simulated")]
    if not live:
        raise ConfigError(where, "has no live scenario to compare with")
    return live


def replay(
    live: list[dict[str, Any]], where: str, options: SimOptions, *, calibrated: bool = False
) -> list[dict[str, Any]]:
    """The simulated counterparts of live scenario entries (from ``where``), in order.

    ``calibrated``: each scenario's hop is its own measured one (``measured_hop``).
    """
    simulated = []
    for entry in live:
        measured = measured_hop(entry) if calibrated else None
        hop = None if measured is None else measured[0]
        rig = SimRig(options if hop is None else dataclasses.replace(options, hop_s=hop))
        scenario = scenario_from_entry(entry, f"{where}: {entry.get('key')}")
        simulated.append(run_scenario(scenario, rig))
    return simulated


def simulate_entries(
    path: str, options: SimOptions, *, calibrated: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(live scenario entries, their simulated counterparts) of the result set at ``path``."""
    live = live_entries(read_result(path), path)
    return live, replay(live, path, options, calibrated=calibrated)


def fit_hop(live: list[dict[str, Any]], where: str, options: SimOptions) -> float:
    """The hop delay (seconds) that makes the simulated p50s match the live ones on average.

    For result files without a rig calibration (written before lbbench
    measured its rig): one parameter fitted, the rig's own latency per hop
    (processes waking up, sockets, the balancer's Python): simulate with no
    hops, and spread the mean gap between live and simulated p50 over the
    four hops. Throughput and the order of the strategies are then checked
    with nothing fitted to them.
    """
    simulated = replay(live, where, dataclasses.replace(options, hop_s=0.0))
    gaps = [
        real["summary"]["latency_ms"]["corrected"]["p50"]
        - sim["summary"]["latency_ms"]["corrected"]["p50"]
        for real, sim in zip(live, simulated, strict=True)
    ]
    return max(0.0, sum(gaps) / len(gaps) / 4 / 1e3)


def _within(name: str, live: float, sim: float, unit: str) -> Check:
    passed = abs(sim - live) <= AGREEMENT * live if live else sim == live
    return Check(name, live, sim, unit, f"within {AGREEMENT:.0%} of live", passed)


def _p99(entry: dict[str, Any]) -> float:
    return entry["summary"]["latency_ms"]["corrected"]["p99"]


def agreement(live: list[dict[str, Any]], simulated: list[dict[str, Any]]) -> list[Check]:
    """Throughput and p50 per scenario; p99 order of strategies per group."""
    checks: list[Check] = []
    groups: defaultdict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
    for real, sim in zip(live, simulated, strict=True):
        name = real["name"]
        checks.append(
            _within(
                f"{name}: throughput",
                real["summary"]["throughput_rps"],
                sim["summary"]["throughput_rps"],
                "req/s",
            )
        )
        for statistic in ("mean", "p50"):
            checks.append(
                _within(
                    f"{name}: {statistic}",
                    real["summary"]["latency_ms"]["corrected"][statistic],
                    sim["summary"]["latency_ms"]["corrected"][statistic],
                    "ms",
                )
            )
        group = (real["profile"], real["failover"], str(sorted(real["load"].items())))
        groups[group].append((real, sim))
    for (profile, failover, _), members in groups.items():
        if len(members) < 2:
            continue
        live_order = [r["strategy"] for r, _ in sorted(members, key=lambda m: _p99(m[0]))]
        sim_order = [s["strategy"] for _, s in sorted(members, key=lambda m: _p99(m[1]))]
        # Only pairs live tells apart count: two p99s within TIE of each other
        # are a tie in a measurement this noisy, not an order to reproduce.
        decided = agreed = 0
        for (real_a, sim_a), (real_b, sim_b) in itertools.combinations(members, 2):
            live_a, live_b = _p99(real_a), _p99(real_b)
            if abs(live_a - live_b) <= TIE * max(live_a, live_b):
                continue
            decided += 1
            agreed += (live_a < live_b) == (_p99(sim_a) < _p99(sim_b))
        checks.append(
            Check(
                f"{profile} {failover}: p99 order live {' < '.join(live_order)}; "
                f"sim {' < '.join(sim_order)} (pairs live tells apart by > {TIE:.0%})",
                decided,
                agreed,
                "pairs",
                "every such pair in the same order",
                agreed == decided,
            )
        )
    return checks
