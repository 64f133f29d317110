"""lbbench from Python: load a suite, run it live or simulated, read and rank the results.

```python
import lbbench.api as lb

result = lb.run("suites/mine.toml", simulated=True, trials=8)
for ranking in result.rank(by=["error_rate", "p99"]):
    print(ranking.answer)
print(result.scenario("p2c with eject+retry").value("p99"))
```

The same suites, rigs, result files and rankings as the command line; a
result set read back (``lb.read``) is the same object as one just run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbbench.errors import NotFoundError
from lbbench.results.files import new_result_set, read_result, save_result
from lbbench.results.metrics import metric
from lbbench.results.rank import Ranking, experiments
from lbbench.results.rank import rank as rank_rows
from lbbench.rigs.base import Rig, run_scenario
from lbbench.scenario.scenario import Scenario
from lbbench.scenario.suite_file import Suite
from lbbench.scenario.suites import load_suite

__all__ = ["ResultSet", "ScenarioResult", "Suite", "load_suite", "read", "run"]


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario of a result set: what it was, and what was measured."""

    entry: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.entry["name"]

    @property
    def key(self) -> str:
        return self.entry["key"]

    @property
    def group(self) -> str:
        return self.entry.get("group", "")

    @property
    def cell(self) -> Mapping[str, str]:
        return self.entry.get("cell", {})

    @property
    def strategy(self) -> str:
        return self.entry["strategy"]

    @property
    def failover(self) -> str:
        return self.entry["failover"]

    @property
    def valid(self) -> bool:
        return self.entry["valid"]

    @property
    def problems(self) -> list[str]:
        return self.entry["problems"]

    @property
    def requests(self) -> Mapping[str, int]:
        return self.entry["summary"]["requests"]

    def value(self, name: str) -> float | None:
        """A metric's value over all trials (``p99`` in ms, ``error_rate``, ``throughput``...)."""
        return metric(name).summary_value(self.entry["summary"])

    def samples(self, name: str) -> list[float]:
        """A metric's per-trial samples (what significance tests compare)."""
        return list(self.entry["samples"].get(metric(name).sample, []))


@dataclass(frozen=True)
class ResultSet:
    """A result set (``lbbench.run/1``), as run or as read from its file."""

    data: Mapping[str, Any]
    path: Path | None = None

    @property
    def scenarios(self) -> list[ScenarioResult]:
        return [ScenarioResult(entry) for entry in self.data["scenarios"]]

    @property
    def valid(self) -> bool:
        return all(s.valid for s in self.scenarios)

    def scenario(self, name: str) -> ScenarioResult:
        """The scenario of this name (a NotFoundError, a KeyError too, lists the names)."""
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        names = ", ".join(s.name for s in self.scenarios)
        raise NotFoundError("scenario", f"no scenario {name!r} (scenarios: {names})")

    def rank(self, by: Sequence[str] = ("p99",), alpha: float = 0.05) -> list[Ranking]:
        """Each experiment's scenarios ranked (``lbbench rank``); ``refused`` says when not."""
        return [
            rank_rows(rows, tuple(by), name, alpha)
            for name, rows in experiments([("", self.data)]).items()
        ]

    def figures(self, names: Iterable[str] = ("throughput", "p50", "p99")) -> dict[str, Any]:
        """{scenario: {metric: value}}, e.g. for pytest-benchmark's ``extra_info``."""
        return {s.name: {n: s.value(n) for n in names} for s in self.scenarios}


def read(path: str | Path) -> ResultSet:
    """A result file, validated."""
    return ResultSet(read_result(path), Path(path))


def run(
    suite: str | Path | Suite,
    *,
    simulated: bool = False,
    trials: int | None = None,
    seed: int | None = None,
    settings: Mapping[str, Any] | None = None,
    only: Sequence[str] | None = None,
    out: str | Path | None = None,
    rig: Rig | None = None,
    progress: Callable[[Scenario, int, float], None] | None = None,
) -> ResultSet:
    """Run a suite (a shipped name, a .toml path or a ``Suite``) and return its results.

    ``simulated`` picks the simulator instead of the live rig (or pass any
    ``rig``); ``trials``, ``seed``, ``settings`` (router settings by path)
    and ``only`` (scenario names or groups, ``*`` as a wildcard) work as
    the command line's ``--trials``, ``--seed``, ``--set`` and ``--only``;
    with ``out`` the result set is also written there.
    """
    from lbbench.cli.plan import check_references, with_changes
    from lbbench.cli.plan import only as only_these

    if not isinstance(suite, Suite):
        suite = load_suite(str(suite), trials=trials, seed=seed)
    elif trials is not None or seed is not None:
        suite = dataclasses.replace(
            suite,
            scenarios=tuple(
                dataclasses.replace(
                    s,
                    trials=trials if trials is not None else s.trials,
                    seed=seed if seed is not None else s.seed,
                )
                for s in suite.scenarios
            ),
        )
    check_references(suite)
    if rig is None:
        if simulated:
            from lbbench.sim.rig import SimRig

            rig = SimRig()
        else:
            from lbbench.rigs.live import LiveRig

            rig = LiveRig()
    scenarios = only_these(suite.scenarios, list(only)) if only else list(suite.scenarios)
    scenarios = [with_changes(s, settings or {}, None) for s in scenarios]
    for scenario in scenarios:  # bad input fails before anything starts
        scenario.validate()
        rig.check(scenario)
    entries = []
    for scenario in scenarios:
        tick = (lambda i, f, s=scenario: progress(s, i, f)) if progress else None
        entries.append(run_scenario(scenario, rig, tick))
    config = {
        "suite": suite.name,
        "suite_file": suite.source,
        "simulated": rig.simulated,
        "api": True,
        "rank_by": list(suite.rank_by),
        "gate": suite.gate,
    }
    data = new_result_set(f"{'sim-' if rig.simulated else ''}{suite.name}", config, entries)
    path = save_result(data, out) if out is not None else None
    return ResultSet(data, path)
