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
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from lbbench.checks import check_number
from lbbench.core.config import DEFAULT_DEADLINE_S, DEFAULT_MODES, DEFAULT_STRATEGY
from lbbench.core.faults import Fault
from lbbench.core.settings import scenario_fields
from lbbench.errors import ConfigError
from lbbench.scenario.fleets import SyntheticFleet, rate_for_utilization
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, load_profile, parse_profile
from lbbench.scenario.scenario import GRPC_PREFIX, Scenario, is_grpc
from lbbench.schema import check_keys, convert, join, load

ROUTING = (
    "strategy",
    "strategy_options",
    "failover",
    "deadline_s",
    "max_pending",
    "panic_threshold",
    "view",
    "view_period_s",
    "view_delay_s",
    "balancer",
    "balancers",
    "balancers_split",
)
SCENARIO_KEYS = ("fleet", "faults", "load", *ROUTING)
# More scenarios than this are refused unless asked for (--max-scenarios); the estimate
# of their time goes by the rig's overhead per trial (start, calibration) and the
# simulator's rate (both measured here, 2026-12-07; machines differ, 2-3x).
MAX_SCENARIOS = 10_000
LIVE_OVERHEAD_S = 3.0
SIM_REQUESTS_PER_S = 50_000.0
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
    "map",
    "trial_detail",
)


SYNTHETIC_FIELD = "fleet.synthetic."  # a matrix key's prefix for one field of a synthetic fleet


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
class MapSpec:
    """``[map]``: a winner map of the sweep. ``contenders`` are the matrix axes that compete
    (``strategy``, ``failover``); every other axis is a condition, laid out down the map
    (``rows``) or across it (``columns``); in each cell the best ``metric`` wins among the
    contenders whose error rate is at most ``max_extra_errors`` above the cell's lowest (a
    contender that fails requests fast must not win on latency)."""

    contenders: tuple[str, ...]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    metric: str = "p99"
    max_extra_errors: float = 0.001


@dataclass(frozen=True)
class PublishedFigure:
    """One figure a publication reports for one of the suite's scenarios.

    With ``versus`` (another scenario) the figure is a ratio: the metric of
    ``scenario`` over that of ``versus`` (0.5: half of it), for papers that
    report how much better, not absolute figures of their own workload.
    """

    scenario: str
    metric: str
    value: float
    note: str = ""
    versus: str = ""


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
    rank_within: tuple[str, ...] = ()  # matrix axes each of whose values is ranked apart
    winner_map: MapSpec | None = None
    trial_detail: str = "full"  # "lean": trials without timelines, events, per-backend rows


def read_suite(
    path: str | Path,
    *,
    trials: int | None = None,
    seed: int | None = None,
    only: Sequence[str] = (),
    max_scenarios: int = MAX_SCENARIOS,
) -> Suite:
    """Read and expand a suite file (``trials``/``seed`` override the file's). A matrix of
    more than ``max_scenarios`` cells is refused before it is expanded, unless ``only``
    picks few enough of them (then only those are made)."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, f"invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(source, f"cannot read: {error.strerror}") from None
    return parse_suite(
        data, source, trials=trials, seed=seed, only=only, max_scenarios=max_scenarios
    )


def parse_suite(
    data: Mapping[str, Any],
    source: str,
    *,
    trials: int | None = None,
    seed: int | None = None,
    only: Sequence[str] = (),
    max_scenarios: int = MAX_SCENARIOS,
) -> Suite:
    where = f"{source}: "
    check_keys(data, TOP_KEYS, where)
    name = convert(str, data.get("name", Path(source).stem), f"{where}name")
    description = convert(str, data.get("description", ""), f"{where}description")
    trials = trials if trials is not None else convert(int, data.get("trials", 1), f"{where}trials")
    seed = seed if seed is not None else convert(int, data.get("seed", 1), f"{where}seed")
    if trials < 1:
        raise ConfigError(f"{where}trials", f"must be >= 1, got {trials}")
    defaults = check_keys(data.get("defaults", {}), _SCENARIO_KEYS, f"{where}defaults")
    tables = data.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{where}scenario", "needs at least one [[scenario]] table")
    folder = Path(source).parent
    # The number of cells is known before any is made: a runaway matrix (seven axes of
    # ten values: ten million scenarios) is refused at once instead of filling memory.
    cells = sum(_cell_count(table) for table in tables)
    too_many = cells > max_scenarios
    if too_many and not only:
        first = _expand(defaults, tables[0], f"{where}scenario[0]", folder, trials, seed, limit=1)
        raise _too_many(source, cells, first[0] if first else None, max_scenarios)
    pick = tuple(only) if too_many else ()
    scenarios: list[Scenario] = []
    for index, table in enumerate(tables):
        at = f"{where}scenario[{index}]"
        room = max_scenarios + 1 - len(scenarios) if too_many else None
        scenarios.extend(_expand(defaults, table, at, folder, trials, seed, pick, room))
        if too_many and len(scenarios) > max_scenarios:  # --only picked too many still
            raise _too_many(source, cells, scenarios[0], max_scenarios)
    _check_distinct(scenarios, source)
    # Metric names and thresholds are checked against the metrics registry by
    # whoever runs the suite (the results layer sits above this one).
    rank = check_keys(data.get("rank", {}), ("by", "within"), f"{where}rank")
    by = rank.get("by", ())
    rank_by = (by,) if isinstance(by, str) else convert(tuple[str, ...], by, f"{where}rank.by")
    rank_within = _axes(rank.get("within", ()), scenarios, f"{where}rank.within")
    gate = check_keys(data.get("gate", {}), ("fail_on",), f"{where}gate")
    fail_on = convert(str, gate.get("fail_on", ""), f"{where}gate.fail_on")
    pivot = load(Pivot, data["pivot"], f"{where}pivot") if "pivot" in data else None
    simulated_only = convert(bool, data.get("simulated_only", False), f"{where}simulated_only")
    published = _published(data["published"], scenarios, where) if "published" in data else None
    winner_map = _map(data["map"], scenarios, f"{where}map") if "map" in data else None
    trial_detail = convert(str, data.get("trial_detail", "full"), f"{where}trial_detail")
    if trial_detail not in ("full", "lean"):
        raise ConfigError(f"{where}trial_detail", f"must be full or lean, got {trial_detail!r}")
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
        rank_within,
        winner_map,
        trial_detail,
    )


def _map(table: Any, scenarios: list[Scenario], where: str) -> MapSpec:
    """``[map]``: contenders, rows and columns name matrix axes, each axis exactly once."""
    table = check_keys(
        table, ("contenders", "rows", "columns", "metric", "max_extra_errors"), where
    )
    parts = {}
    for key in ("contenders", "rows", "columns"):
        if key not in table:
            raise ConfigError(join(where, key), "missing (one matrix axis or a list of them)")
        parts[key] = _axes(table[key], scenarios, join(where, key))
    named = [axis for axes in parts.values() for axis in axes]
    for axis in named:
        if named.count(axis) > 1:
            raise ConfigError(where, f"matrix axis {axis!r} is named twice")
    known = sorted({axis for s in scenarios for axis, _ in s.cell})
    left = [axis for axis in known if axis not in named]
    if left:
        raise ConfigError(
            where, f"matrix axes {', '.join(left)} are in no place (contenders, rows or columns)"
        )
    metric = convert(str, table.get("metric", "p99"), join(where, "metric"))
    extra = convert(float, table.get("max_extra_errors", 0.001), join(where, "max_extra_errors"))
    check_number(join(where, "max_extra_errors"), extra, low=0.0, high=1.0)
    return MapSpec(parts["contenders"], parts["rows"], parts["columns"], metric, extra)


def _axes(value: Any, scenarios: list[Scenario], where: str) -> tuple[str, ...]:
    """Matrix axes by name (one or a list), each one some scenario's matrix has."""
    axes = (value,) if isinstance(value, str) else convert(tuple[str, ...], value, where)
    known = {axis for s in scenarios for axis, _ in s.cell}
    for axis in axes:
        if axis not in known:
            raise ConfigError(
                where, f"no matrix axis {axis!r} (axes: {', '.join(sorted(known)) or 'none'})"
            )
    return axes


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
        for key, name in (("scenario", one.scenario), ("versus", one.versus)):
            if name and name not in names:
                known = ", ".join(sorted(names))
                raise ConfigError(
                    f"{at}.figure[{index}].{key}",
                    f"no scenario {name!r} in this suite (scenarios: {known})",
                )
        loaded.append(one)
    return Published(
        convert(str, table["source"], f"{at}.source"),
        tuple(loaded),
        convert(str, table.get("url", ""), f"{at}.url"),
    )


def _cell_count(table: Any) -> int:
    """How many scenarios a [[scenario]] table makes (the product of its axes), unexpanded."""
    matrix = table.get("matrix", {}) if isinstance(table, Mapping) else {}
    if not isinstance(matrix, Mapping):
        return 1  # (_expand says what is wrong with it)
    return math.prod(len(v) if isinstance(v, list) else 1 for v in matrix.values())


def _too_many(source: str, cells: int, first: Scenario | None, limit: int) -> ConfigError:
    """One line: how many, about how long, and how to go ahead."""
    estimate = ""
    if first is not None:
        load = first.load
        live_h = cells * first.trials * (load.duration_s + load.drain_s + LIVE_OVERHEAD_S) / 3600
        requests = cells * first.trials * load.rate * load.duration_s
        sim_h = requests / SIM_REQUESTS_PER_S / 3600
        estimate = (
            f" (about {live_h:,.0f} h live, {sim_h:,.1f} h simulated on one CPU, going by the "
            f"first scenario's load: {first.trials} trial(s) of {load.duration_s:g} s at "
            f"{load.rate:g} requests/s)"
        )
    return ConfigError(
        source,
        f"its matrices make {cells:,} scenarios, over the limit of {limit:,}{estimate}: pick "
        f"some with --only NAME, or allow them with --max-scenarios {cells}",
    )


def _expand(
    defaults: Mapping[str, Any],
    table: Any,
    where: str,
    folder: Path,
    trials: int,
    seed: int,
    only: tuple[str, ...] = (),
    limit: int | None = None,
) -> list[Scenario]:
    """The scenarios of one [[scenario]] table: one, or one per matrix cell (with ``only``,
    just the cells whose name or group matches one of its patterns; at most ``limit``)."""
    table = check_keys(table, _Keys("name", "matrix", *SCENARIO_KEYS), where)
    group = convert(str, table.get("name", where.rpartition(": ")[2]), join(where, "name"))
    base = _Parts.of(defaults, f"{where.rpartition(': ')[0]}: defaults", folder)
    base = base.over(_Parts.of(table, where, folder))
    matrix = check_keys(table.get("matrix", {}), _anything, join(where, "matrix"))
    axes = []
    for key, values in matrix.items():
        at = join(where, f"matrix.{key}")
        if not isinstance(values, list) or not values:
            raise ConfigError(at, "must be a non-empty array of values")
        axes.append([(key, value, f"{at}[{i}]", _label(value)) for i, value in enumerate(values)])
    scenarios = []
    whole_group = not only or any(fnmatchcase(group, pattern) for pattern in only)
    for cell in itertools.product(*axes):
        labels = [(key, label) for key, _, _, label in cell]
        if limit is not None and len(scenarios) >= limit:
            break
        name = _cell_name(group, labels)
        if not whole_group and not any(fnmatchcase(name, pattern) for pattern in only):
            continue  # named before it is made: a pick from a huge matrix costs little
        parts = base
        for key, value, at, _ in cell:
            parts = parts.over(_Parts.of_matrix(key, value, at, folder))
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


class _Keys:
    """Known keys, and quoted dotted ones under a routing key (``"balancer.envoy.bin"``:
    TOML cannot hold ``balancer`` as a string and a table in one table)."""

    def __init__(self, *known: str) -> None:
        self.known = known

    def __contains__(self, key: object) -> bool:
        return key in self.known or (
            isinstance(key, str) and "." in key and key.partition(".")[0] in ROUTING
        )

    def __iter__(self):
        return iter(self.known)


_SCENARIO_KEYS = _Keys(*SCENARIO_KEYS)


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
    # fields of a synthetic fleet set one by one (``fleet.synthetic.backends``)
    fleet_fields: tuple[tuple[str, Any, str], ...] = ()
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
            fields = {k: v for k, v in value.items() if k.startswith(SYNTHETIC_FIELD)}
            rest = {k: v for k, v in value.items() if k not in fields}
            check_keys(rest, ("label", *SCENARIO_KEYS, f"{SYNTHETIC_FIELD}<field>"), where)
            parts = cls.of({k: v for k, v in rest.items() if k != "label"}, where, folder)
            if fields:
                parts = replace(
                    parts,
                    fleet_fields=tuple(
                        (k[len(SYNTHETIC_FIELD) :], v, join(where, k)) for k, v in fields.items()
                    ),
                )
            return parts
        if key in ("fleet", "faults"):
            return cls(**{key: (value, where)})
        if key.startswith("load."):
            return cls(load=((key[len("load.") :], value, where),))
        if key.startswith(SYNTHETIC_FIELD):
            return cls(fleet_fields=((key[len(SYNTHETIC_FIELD) :], value, where),))
        head = key.partition(".")[0]
        if head not in ROUTING:
            raise ConfigError(
                where.rpartition("[")[0],
                "a matrix key is a router setting path, fleet, fleet.synthetic.<field>, "
                "faults or load.<field>",
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
            fleet_fields=_merge(self.fleet_fields, other.fleet_fields),
        )

    def _fleet_with_fields(self) -> tuple[Any, str]:
        """The fleet, with the synthetic fields a matrix set one by one on top."""
        assert self.fleet is not None
        value, at = self.fleet
        if not self.fleet_fields:
            return value, at
        if not (isinstance(value, Mapping) and isinstance(value.get("synthetic"), Mapping)):
            raise ConfigError(
                self.fleet_fields[0][2], f"{SYNTHETIC_FIELD}<field> needs a synthetic fleet"
            )
        fields = dict(value["synthetic"])
        fields.update({field: v for field, v, _ in self.fleet_fields})
        return {"synthetic": fields}, at

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
        try:
            profile = _fleet(*self._fleet_with_fields())
        except ConfigError as error:
            # a bad value a matrix cell set: name the cell, not the fleet it was set on
            given = {f"synthetic.{field}": at for field, _, at in self.fleet_fields}
            field = error.where.rpartition("fleet.")[2]
            if field in given:
                raise ConfigError(given[field], error.message) from None
            raise
        if self.faults is not None:
            profile = _with_faults(profile, *self.faults)
        load_spec = _load(profile, self.load, where)
        fields, options, settings = scenario_fields(
            {path: value for path, value, _ in self.settings}, where
        )
        strategy = fields.get("strategy", DEFAULT_STRATEGY)
        balancer = fields.get("balancer", "lbbench")
        if balancer == "grpc" and not is_grpc(strategy):
            strategy = GRPC_PREFIX + strategy
        modes = fields.get("failover", DEFAULT_MODES)
        deadline = fields.get("deadline_s", DEFAULT_DEADLINE_S)
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
            balancer=balancer,
            balancer_options=tuple(sorted(fields.get("balancer_options", {}).items())),
            balancers=fields.get("balancers", 1),
            balancers_split=fields.get("balancers_split", "even"),
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
        elif key == "balancer" and isinstance(value, Mapping):  # [balancer.envoy] bin = ...
            for proxy, settings in value.items():
                fields = check_keys(settings, _anything, join(at, proxy))
                out.extend(
                    (f"balancer.{proxy}.{k}", v, join(at, f"{proxy}.{k}"))
                    for k, v in fields.items()
                )
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
    """The profile with this fault schedule instead of its own.

    A fault table names its ``target``, or gives ``share`` instead: the fault then
    hits that share of the fleet (at least one backend), spread evenly through it
    from the first backend on, so one table means the same at 10 and 10 000 backends
    (a synthetic fleet's slow backends sit between them).
    """
    if not isinstance(value, list):
        raise ConfigError(where, "must be an array of fault tables")
    ids = [t.id for t in profile.targets]
    faults = []
    described = []
    for index, table in enumerate(value):
        at = f"{where}[{index}]"
        if isinstance(table, Mapping) and "share" in table:
            if "target" in table:
                raise ConfigError(join(at, "share"), "give target or share, not both")
            share = convert(float, table["share"], join(at, "share"))
            check_number(join(at, "share"), share, low=0.0, high=1.0, low_open=True)
            count = max(1, round(len(ids) * share))
            hit = [ids[i * len(ids) // count] for i in range(count)]
            rest = {k: v for k, v in table.items() if k != "share"}
            batch = [Fault.from_table({**rest, "target": t}, at) for t in hit]
            faults.extend(batch)
            described.append(_describe(batch[0], f"{share:g}-of-fleet"))
            continue
        fault = Fault.from_table(table, at)
        if fault.target not in ids:
            raise ConfigError(join(at, "target"), f"no target with id {fault.target!r}")
        faults.append(fault)
        described.append(_describe(fault))
    # The schedule is part of what is measured: the name (and so the key) says it.
    signature = "+".join(described) or "no-faults"
    return replace(profile, name=f"{profile.name}~{signature}", faults=tuple(faults))


def _describe(fault: Fault, target: str = "") -> str:
    params = "".join(f",{k}={v}" if isinstance(v, str) else f",{k}={v:g}" for k, v in fault.params)
    span = f"{fault.at_s:g}s" + (f"+{fault.duration_s:g}s" if fault.duration_s is not None else "")
    return f"{fault.kind}({target or fault.target}@{span}{params})"


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
