"""Suite files: a user's own experiment in TOML, expanded into scenarios.

```toml
name = "slow-node"
description = "Which strategy and failover hold the tail when one of 8 targets turns 10x slower?"
trials = 8
seed = 1

[defaults]                              # every scenario starts from these
fleet = "uniform"                       # a profile name, a .toml path (next to this file),
                                        # a table shaped like a profile, or { synthetic = {...} }
load = { utilization = 0.7, duration_s = 10 }   # or rate = ...; requests = ... sets the duration
deadline_s = 1.0
failover.retry.budget_ratio = 0.2       # any router setting by its dotted path

[[scenario]]
name = "strategies under a slow node"
faults = [{ at_s = 3, target = "t1", kind = "slow", factor = 10, duration_s = 4 }]
matrix.strategy = ["least_connections", "p2c", "peak_ewma"]
matrix.failover = ["fail_fast", "eject+retry"]

[[scenario]]
name = "retry budget"
strategy = "p2c"
failover = "eject+retry"
matrix."failover.retry.budget_ratio" = [0.1, 0.2, 0.5]

[rank]
by = ["error_rate", "p99"]

[gate]
fail_on = "p99:+10%,error_rate:+0.005"
```

A scenario's settings are the defaults', overridden by its own (the load
table key by key). ``faults``, when given, is the whole fault schedule (it
replaces the fleet profile's, and the fleet's name records it, so the
scenario key tells the two apart). ``matrix`` keys expand into the cross
product, in the order written; a key is a router setting path, ``fleet``,
``faults`` or ``load.<field>``, and a value may also be a table of several
settings applied together (``{ strategy = "adaptive", strategy_options =
{ interval_s = 0.05 } }``). Every error names the file and the key.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lbbench.core.faults import Fault
from lbbench.core.settings import parse_modes
from lbbench.errors import ConfigError
from lbbench.scenario.fleets import SyntheticFleet, rate_for_utilization
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, load_profile, parse_profile
from lbbench.scenario.scenario import Scenario, is_grpc
from lbbench.schema import check_keys, convert, join, load

ROUTING = (
    "strategy",
    "strategy_options",
    "failover",
    "deadline_s",
    "max_pending",
    "panic_threshold",
)
SCENARIO_KEYS = ("fleet", "faults", "load", *ROUTING)
TOP_KEYS = (
    "simulated_only",
    "name",
    "description",
    "trials",
    "seed",
    "defaults",
    "scenario",
    "rank",
    "gate",
    "pivot",
    "published",
)


@dataclass(frozen=True)
class Pivot:
    """Tables of ``metric`` (one name or several) with one matrix key down and another across."""

    rows: str
    columns: str
    metric: str | tuple[str, ...] = "p99"

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) if isinstance(self.metric, str) else self.metric


@dataclass(frozen=True)
class PublishedFigure:
    """One figure a publication reports for one of the suite's scenarios."""

    scenario: str
    metric: str
    value: float
    note: str = ""


@dataclass(frozen=True)
class Published:
    """What a suite reproduces (``[published]``): the source and its figures, printed beside
    the run's own."""

    source: str
    figures: tuple[PublishedFigure, ...]
    url: str = ""


@dataclass(frozen=True)
class Suite:
    """A suite file, read: its scenarios expanded, and what to do with the results."""

    name: str
    description: str
    source: str
    scenarios: tuple[Scenario, ...]
    rank_by: tuple[str, ...] = ()
    gate: str = ""
    pivot: Pivot | None = None
    simulated_only: bool = False
    published: Published | None = None


def read_suite(path: str | Path, *, trials: int | None = None, seed: int | None = None) -> Suite:
    """Read and expand a suite file (``trials``/``seed`` override the file's)."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, f"invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(source, f"cannot read: {error.strerror}") from None
    return parse_suite(data, source, trials=trials, seed=seed)


def parse_suite(
    data: Mapping[str, Any], source: str, *, trials: int | None = None, seed: int | None = None
) -> Suite:
    where = f"{source}: "
    check_keys(data, TOP_KEYS, where)
    name = convert(str, data.get("name", Path(source).stem), f"{where}name")
    description = convert(str, data.get("description", ""), f"{where}description")
    trials = trials if trials is not None else convert(int, data.get("trials", 1), f"{where}trials")
    seed = seed if seed is not None else convert(int, data.get("seed", 1), f"{where}seed")
    if trials < 1:
        raise ConfigError(f"{where}trials", f"must be >= 1, got {trials}")
    defaults = check_keys(data.get("defaults", {}), SCENARIO_KEYS, f"{where}defaults")
    tables = data.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{where}scenario", "needs at least one [[scenario]] table")
    folder = Path(source).parent
    scenarios: list[Scenario] = []
    for index, table in enumerate(tables):
        at = f"{where}scenario[{index}]"
        scenarios.extend(_expand(defaults, table, at, folder, trials, seed))
    _check_distinct(scenarios, source)
    # Metric names and thresholds are checked against the metrics registry by
    # whoever runs the suite (the results layer sits above this one).
    rank = check_keys(data.get("rank", {}), ("by",), f"{where}rank")
    by = rank.get("by", ())
    rank_by = (by,) if isinstance(by, str) else convert(tuple[str, ...], by, f"{where}rank.by")
    gate = check_keys(data.get("gate", {}), ("fail_on",), f"{where}gate")
    fail_on = convert(str, gate.get("fail_on", ""), f"{where}gate.fail_on")
    pivot = load(Pivot, data["pivot"], f"{where}pivot") if "pivot" in data else None
    simulated_only = convert(bool, data.get("simulated_only", False), f"{where}simulated_only")
    published = _published(data["published"], scenarios, where) if "published" in data else None
    return Suite(
        name,
        description,
        source,
        tuple(scenarios),
        rank_by,
        fail_on,
        pivot,
        simulated_only,
        published,
    )


def _published(table: Any, scenarios: list[Scenario], where: str) -> Published:
    """``[published]``: ``source``, ``url`` and ``[[published.figure]]`` tables, each naming
    one of the suite's scenarios. (Metric names are checked by whoever runs the suite.)"""
    at = f"{where}published"
    table = check_keys(table, ("source", "url", "figure"), at)
    if "source" not in table:
        raise ConfigError(f"{at}.source", "missing: say where the figures come from")
    figures = table.get("figure")
    if not isinstance(figures, list) or not figures:
        raise ConfigError(f"{at}.figure", "needs at least one [[published.figure]] table")
    names = {s.name for s in scenarios}
    loaded = []
    for index, figure in enumerate(figures):
        one = load(PublishedFigure, figure, f"{at}.figure[{index}]")
        if one.scenario not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(
                f"{at}.figure[{index}].scenario",
                f"no scenario {one.scenario!r} in this suite (scenarios: {known})",
            )
        loaded.append(one)
    return Published(
        convert(str, table["source"], f"{at}.source"),
        tuple(loaded),
        convert(str, table.get("url", ""), f"{at}.url"),
    )


def _expand(
    defaults: Mapping[str, Any],
    table: Any,
    where: str,
    folder: Path,
    trials: int,
    seed: int,
) -> list[Scenario]:
    """The scenarios of one [[scenario]] table: one, or one per matrix cell."""
    table = check_keys(table, ("name", "matrix", *SCENARIO_KEYS), where)
    group = convert(str, table.get("name", where.rpartition(": ")[2]), join(where, "name"))
    base = _Parts.of(defaults, f"{where.rpartition(': ')[0]}: defaults", folder)
    base = base.over(_Parts.of(table, where, folder))
    matrix = check_keys(table.get("matrix", {}), _anything, join(where, "matrix"))
    axes = []
    for key, values in matrix.items():
        at = join(where, f"matrix.{key}")
        if not isinstance(values, list) or not values:
            raise ConfigError(at, "must be a non-empty array of values")
        axes.append([(key, value, f"{at}[{i}]") for i, value in enumerate(values)])
    scenarios = []
    for cell in itertools.product(*axes):
        parts = base
        labels = []
        for key, value, at in cell:
            parts = parts.over(_Parts.of_matrix(key, value, at, folder))
            labels.append((key, _label(value)))
        name = _cell_name(group, labels)
        cell_at = cell[-1][2] if cell else where
        scenarios.append(parts.scenario(name, group, tuple(labels), trials, seed, cell_at))
    return scenarios


def _cell_name(group: str, labels: list[tuple[str, str]]) -> str:
    """``group`` with ``{key}`` replaced by the cell's labels, or "group: label, label"."""
    if "{" in group:
        name = group
        for key, label in labels:
            name = name.replace("{" + key + "}", label)
        return name
    return f"{group}: {', '.join(label for _, label in labels)}" if labels else group


class _Anything:
    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self):
        return iter(())


_anything = _Anything()


def _label(value: Any) -> str:
    if isinstance(value, Mapping):
        if "label" in value:
            return str(value["label"])
        return " ".join(_label(v) for k, v in value.items() if k != "label")
    if isinstance(value, list):
        return "+".join(_label(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class _Parts:
    """What a scenario is made of, before it is built: each part with where it was given."""

    fleet: tuple[Any, str] | None = None
    faults: tuple[Any, str] | None = None
    load: tuple[tuple[str, Any, str], ...] = ()
    settings: tuple[tuple[str, Any, str], ...] = ()

    @classmethod
    def of(cls, table: Mapping[str, Any], where: str, folder: Path) -> _Parts:
        load_table = table.get("load", {})
        if not isinstance(load_table, Mapping):
            raise ConfigError(join(where, "load"), f"must be a table, got {load_table!r}")
        return cls(
            fleet=(table["fleet"], join(where, "fleet")) if "fleet" in table else None,
            faults=(table["faults"], join(where, "faults")) if "faults" in table else None,
            load=tuple((k, v, join(where, f"load.{k}")) for k, v in load_table.items()),
            settings=tuple(flatten_settings(table, where)),
        )

    @classmethod
    def of_matrix(cls, key: str, value: Any, where: str, folder: Path) -> _Parts:
        if isinstance(value, Mapping):  # several settings applied together
            check_keys(value, ("label", *SCENARIO_KEYS), where)
            return cls.of({k: v for k, v in value.items() if k != "label"}, where, folder)
        if key in ("fleet", "faults"):
            return cls(**{key: (value, where)})
        if key.startswith("load."):
            return cls(load=((key[len("load.") :], value, where),))
        head = key.partition(".")[0]
        if head not in ROUTING:
            raise ConfigError(
                where.rpartition("[")[0],
                "a matrix key is a router setting path, fleet, faults or load.<field>",
            )
        flat = flatten_settings({key: value}, where)
        return cls(settings=tuple((path, v, where) for path, v, _ in flat))

    def over(self, other: _Parts) -> _Parts:
        """These parts with ``other``'s on top (the load and the settings key by key)."""
        return _Parts(
            fleet=other.fleet or self.fleet,
            faults=other.faults if other.faults is not None else self.faults,
            load=_merge(self.load, other.load),
            settings=_merge(self.settings, other.settings),
        )

    def scenario(
        self,
        name: str,
        group: str,
        cell: tuple[tuple[str, str], ...],
        trials: int,
        seed: int,
        where: str,
    ) -> Scenario:
        if self.fleet is None:
            raise ConfigError(join(where, "fleet"), "missing (in the scenario or in [defaults])")
        profile = _fleet(*self.fleet)
        if self.faults is not None:
            profile = _with_faults(profile, *self.faults)
        load_spec = _load(profile, self.load, where)
        settings = {path: value for path, value, _ in self.settings}
        strategy = convert(str, settings.pop("strategy", "round_robin"), join(where, "strategy"))
        modes = parse_modes(settings.pop("failover.modes", "fail_fast"), join(where, "failover"))
        options = {
            path[len("strategy_options.") :]: settings.pop(path)
            for path in [p for p in settings if p.startswith("strategy_options.")]
        }
        deadline = convert(float, settings.pop("deadline_s", 1.0), join(where, "deadline_s"))
        # settings of modes not in force change nothing: left out, so keys say what matters
        settings = {
            path: value
            for path, value in settings.items()
            if not path.startswith("failover.") or path.split(".")[1] in modes
        }
        if is_grpc(strategy):
            settings = {}  # grpcio's policies have their own configuration (lbbench.rpc)
        scenario = Scenario(
            name=name,
            profile=profile,
            strategy=strategy,
            failover=modes,
            load=load_spec,
            strategy_options=tuple(sorted(options.items())),
            seed=seed,
            trials=trials,
            deadline_s=deadline,
            settings=tuple(sorted(settings.items())),
            group=group,
            cell=cell,
        )
        try:
            scenario.validate()
        except ConfigError as error:
            # name the place in the file that set the value the router refused
            places = {path: at for path, _, at in self.settings}
            places.setdefault("failover", places.get("failover.modes", ""))
            place = places.get(error.where) or places.get(error.where.rpartition(".")[0])
            if place:
                raise ConfigError(place, error.message) from None
            raise ConfigError(f"{where} ({name})", f"{error.where}: {error.message}") from None
        return scenario


def _merge(
    under: tuple[tuple[str, Any, str], ...], over: tuple[tuple[str, Any, str], ...]
) -> tuple[tuple[str, Any, str], ...]:
    merged = {key: (key, value, at) for key, value, at in under}
    merged.update({key: (key, value, at) for key, value, at in over})
    return tuple(merged.values())


def flatten_settings(table: Mapping[str, Any], where: str) -> list[tuple[str, Any, str]]:
    """Router settings of a TOML table as (dotted path, value, where it was given).

    TOML's dotted keys (``failover.retry.budget_ratio = 0.2``) arrive as
    nested tables, quoted ones (``"failover.retry.budget_ratio"``) as one key;
    both give the same path. ``failover`` may be the modes ("eject+retry" or
    a list) or a table with ``modes`` and one table per mode.
    """
    out: list[tuple[str, Any, str]] = []
    for key, value in table.items():
        at = join(where, key)
        head, _, rest = key.partition(".")
        if head not in ROUTING:
            continue
        if rest:
            out.append((key, value, at))
        elif key == "strategy_options":
            options = check_keys(value, _anything, at)
            out.extend((f"strategy_options.{k}", v, join(at, k)) for k, v in options.items())
        elif key == "failover" and isinstance(value, Mapping):
            for mode, settings in value.items():
                if mode == "modes":
                    out.append(("failover.modes", settings, join(at, "modes")))
                    continue
                fields = check_keys(settings, _anything, join(at, mode))
                out.extend(
                    (f"failover.{mode}.{k}", v, join(at, f"{mode}.{k}")) for k, v in fields.items()
                )
        elif key == "failover":
            out.append(("failover.modes", value, at))
        else:
            out.append((key, value, at))
    return out


def _fleet(value: Any, where: str) -> FleetProfile:
    if isinstance(value, str):
        path = Path(value)
        if path.suffix == ".toml" and not path.is_absolute():
            nearby = Path(where.partition(": ")[0]).parent / path
            if nearby.exists():
                return load_profile(str(nearby))
        return load_profile(value)
    if isinstance(value, Mapping) and "synthetic" in value:
        check_keys(value, ("synthetic",), where)
        return load(SyntheticFleet, value["synthetic"], join(where, "synthetic")).profile()
    if isinstance(value, Mapping):
        file, _, table = where.partition(": ")
        profile = parse_profile(value, file)
        name = value.get("name", table)
        return replace(profile, name=str(name))
    raise ConfigError(where, f"must be a profile name, a .toml path or a table, got {value!r}")


def _with_faults(profile: FleetProfile, value: Any, where: str) -> FleetProfile:
    if not isinstance(value, list):
        raise ConfigError(where, "must be an array of fault tables")
    ids = {t.id for t in profile.targets}
    faults = []
    for index, table in enumerate(value):
        at = f"{where}[{index}]"
        fault = Fault.from_table(table, at)
        if fault.target not in ids:
            raise ConfigError(join(at, "target"), f"no target with id {fault.target!r}")
        faults.append(fault)
    # The schedule is part of what is measured: the name (and so the key) says it.
    signature = "+".join(_describe(f) for f in faults) or "no-faults"
    return replace(profile, name=f"{profile.name}~{signature}", faults=tuple(faults))


def _describe(fault: Fault) -> str:
    params = "".join(f",{k}={v:g}" for k, v in fault.params)
    span = f"{fault.at_s:g}s" + (f"+{fault.duration_s:g}s" if fault.duration_s is not None else "")
    return f"{fault.kind}({fault.target}@{span}{params})"


def _load(profile: FleetProfile, given: tuple[tuple[str, Any, str], ...], where: str) -> LoadSpec:
    """The load: ``rate`` or ``utilization`` (of the fleet's capacity); ``requests`` sets the
    duration (at least ``duration_s`` when both are given)."""
    table = {key: value for key, value, _ in given}
    places = {key: at for key, _, at in given}
    at_load = join(where, "load")
    if "rate" in table and "utilization" in table:
        raise ConfigError(places["utilization"], "give rate or utilization, not both")
    if "utilization" in table:
        utilization = convert(float, table.pop("utilization"), places["utilization"])
        table["rate"] = rate_for_utilization(profile, utilization, places["utilization"])
    if "requests" in table:
        requests = convert(int, table.pop("requests"), places["requests"])
        if requests < 1:
            raise ConfigError(places["requests"], f"must be >= 1, got {requests}")
        rate = convert(float, table.get("rate", LoadSpec.rate), places.get("rate", at_load))
        table["duration_s"] = max(float(table.get("duration_s", 0.0)), requests / rate)
    for key in table:
        if key not in LoadSpec.__dataclass_fields__ or key == "PATH":
            raise ConfigError(
                places[key],
                "unknown key (known: rate, utilization, duration_s, requests, arrival, shape, "
                "mode, clients, think_s, keys, payload_bytes, processes, drain_s)",
            )
    try:
        return load(LoadSpec, table, at_load)
    except ConfigError as error:
        field = error.where.rpartition(".")[2]
        if field in places and not error.where.startswith(places[field]):
            raise ConfigError(places[field], error.message) from None
        raise


def _check_distinct(scenarios: list[Scenario], source: str) -> None:
    seen: dict[str, str] = {}
    for scenario in scenarios:
        if scenario.key in seen:
            raise ConfigError(
                source,
                f"{seen[scenario.key]!r} and {scenario.name!r} are the same experiment "
                f"(key {scenario.key}); make them differ or drop one",
            )
        seen[scenario.key] = scenario.name
