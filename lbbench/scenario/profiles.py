"""Fleet profiles (``targets/*.toml``): the targets and their fault schedule."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lbbench.core.faults import Fault
from lbbench.core.latency import Latency
from lbbench.core.target_spec import (
    DEFAULT_CAPACITY,
    DEFAULT_LATENCY_MODEL,
    TargetSpec,
)
from lbbench.errors import ConfigError
from lbbench.schema import check_keys, convert, fields_of, load


@dataclass(frozen=True)
class FleetProfile:
    name: str
    description: str
    targets: tuple[TargetSpec, ...]
    faults: tuple[Fault, ...] = ()
    source: str = ""

    def target(self, target_id: str) -> TargetSpec:
        for spec in self.targets:
            if spec.id == target_id:
                return spec
        raise ConfigError(self.source or self.name, f"no target with id {target_id!r}")

    def to_toml(self) -> str:
        """This profile as a profile file (what a rig hands its child processes)."""

        def latency(model: Latency) -> str:
            params = ", ".join(f"{k} = {v!r}" for k, v in model.params)
            return f'{{ dist = "{model.dist}", {params} }}'

        lines = [f"name = {json.dumps(self.name)}", f"description = {json.dumps(self.description)}"]
        for t in self.targets:
            lines += [
                "",
                "[[target]]",
                f"id = {json.dumps(t.id)}",
                f"weight = {t.weight}",
                f"tier = {t.tier}",
                f"capacity = {t.capacity}",
                f"latency = {latency(t.latency)}",
            ]
        for f in self.faults:
            lines += ["", "[[fault]]", f"at_s = {f.at_s!r}", f"target = {json.dumps(f.target)}"]
            lines.append(f'kind = "{f.kind}"')
            if f.duration_s is not None:
                lines.append(f"duration_s = {f.duration_s!r}")
            lines += [f"{k} = {v!r}" for k, v in f.params]
        return "\n".join(lines) + "\n"

    def expected_shares(self, weighted: bool) -> dict[str, float]:
        """Each target's fair share of requests: by weight, or equal; primaries only
        when tiers exist (backups are expected to idle)."""
        first_tier = min(t.tier for t in self.targets)
        total = sum(t.weight if weighted else 1 for t in self.targets if t.tier == first_tier)
        return {
            t.id: ((t.weight if weighted else 1) / total if t.tier == first_tier else 0.0)
            for t in self.targets
        }


@dataclass(frozen=True)
class TargetDefaults:
    """A profile's ``[defaults]``: what every target has unless it says otherwise."""

    capacity: int = DEFAULT_CAPACITY
    latency: Latency = DEFAULT_LATENCY_MODEL


def parse_profile(data: Mapping[str, Any], source: str) -> FleetProfile:
    """A profile from its parsed TOML; every error names ``source`` and the key."""
    where = f"{source}: "
    check_keys(data, ("name", "description", "defaults", "target", "fault"), where)
    name = convert(str, data.get("name", Path(source).stem), f"{where}name")
    if not name:
        raise ConfigError(f"{where}name", "must be a non-empty string")
    description = convert(str, data.get("description", ""), f"{where}description")
    defaults = load(TargetDefaults, data.get("defaults", {}), f"{where}defaults")
    tables = data.get("target")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{where}target", "needs at least one [[target]] table")
    targets: list[TargetSpec] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        at = f"{where}target[{index}]"
        table = check_keys(table, fields_of(TargetSpec), at)
        given = {"capacity": defaults.capacity, "latency": defaults.latency, **table}
        spec = load(TargetSpec, given, at)
        if spec.id in seen:
            raise ConfigError(f"{at}.id", f"duplicate target id {spec.id!r}")
        seen.add(spec.id)
        targets.append(spec)
    faults_data = data.get("fault", [])
    if not isinstance(faults_data, list):
        raise ConfigError(f"{where}fault", "must be an array of [[fault]] tables")
    faults = []
    for index, table in enumerate(faults_data):
        fault = Fault.from_table(table, f"{where}fault[{index}]")
        if fault.target not in seen:
            raise ConfigError(
                f"{where}fault[{index}].target", f"no target with id {fault.target!r}"
            )
        faults.append(fault)
    return FleetProfile(name, description, tuple(targets), tuple(faults), source)


def shipped_files(package: str) -> dict[str, Path]:
    """The ``*.toml`` files a package of lbbench ships, by name (in any install)."""
    folder = resources.files(package)
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


def shipped() -> dict[str, Path]:
    """The profiles that come with lbbench, by name (``lbbench.targets``)."""
    return shipped_files("lbbench.targets")


def resolve(name_or_path: str) -> Path:
    """A profile path from a path or a bare name (one of the shipped profiles)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return path
    known = shipped()
    if name_or_path in known:
        return known[name_or_path]
    if path.exists():
        return path
    raise ConfigError(
        "--targets", f"no profile {name_or_path!r} (a .toml path, or one of: {', '.join(known)})"
    )


def load_profile(name_or_path: str) -> FleetProfile:
    path = resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(str(path), f"cannot read: {error.strerror}") from None
    return parse_profile(data, str(path))


def list_profiles() -> list[FleetProfile]:
    return [load_profile(str(path)) for path in shipped().values()]
