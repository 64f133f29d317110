"""Fleet profiles (``targets/*.toml``): the targets and their fault schedule."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbbench.core.backends import Backend
from lbbench.core.faults import Fault, parse_fault
from lbbench.core.latency import Latency, parse_latency
from lbbench.errors import ConfigError

PROFILE_DIR = Path(__file__).resolve().parents[2] / "targets"
DEFAULT_LATENCY = {"dist": "exponential", "mean_ms": 2.0}
DEFAULT_CAPACITY = 4
DEFAULT_LATENCY_MODEL = Latency("exponential", (("mean_ms", 2.0),))


@dataclass(frozen=True)
class TargetSpec:
    """One mock target: identity, weight and tier, capacity and service-time model."""

    id: str
    weight: int = 1
    tier: int = 0
    capacity: int = DEFAULT_CAPACITY
    latency: Latency = DEFAULT_LATENCY_MODEL

    def backend(self) -> Backend:
        return Backend(self.id, self.weight, self.tier)


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

    def expected_shares(self, weighted: bool) -> dict[str, float]:
        """Each target's fair share of requests: by weight, or equal; primaries only
        when tiers exist (backups are expected to idle)."""
        first_tier = min(t.tier for t in self.targets)
        total = sum(t.weight if weighted else 1 for t in self.targets if t.tier == first_tier)
        return {
            t.id: ((t.weight if weighted else 1) / total if t.tier == first_tier else 0.0)
            for t in self.targets
        }


def _int(where: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(where, f"must be an integer >= {low}, got {value!r}")
    return value


def parse_profile(data: Mapping[str, Any], source: str) -> FleetProfile:
    """Validate a parsed TOML profile; every error names ``source`` and the key."""
    known = {"name", "description", "defaults", "target", "fault"}
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{source}: {key}", f"unknown key (known: {', '.join(sorted(known))})"
            )
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: name", "must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{source}: description", "must be a string")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"{source}: defaults", "must be a table")
    for key in defaults:
        if key not in ("capacity", "latency"):
            raise ConfigError(f"{source}: defaults.{key}", "unknown key (capacity, latency)")
    capacity = _int(f"{source}: defaults.capacity", defaults.get("capacity", DEFAULT_CAPACITY), 1)
    latency = parse_latency(defaults.get("latency", DEFAULT_LATENCY), f"{source}: defaults.latency")
    tables = data.get("target")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{source}: target", "needs at least one [[target]] table")
    targets: list[TargetSpec] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        where = f"{source}: target[{index}]"
        if not isinstance(table, Mapping):
            raise ConfigError(where, "must be a table")
        for key in table:
            if key not in ("id", "weight", "tier", "capacity", "latency"):
                raise ConfigError(
                    f"{where}.{key}", "unknown key (id, weight, tier, capacity, latency)"
                )
        target_id = table.get("id")
        if not isinstance(target_id, str) or not target_id:
            raise ConfigError(f"{where}.id", "missing or not a string")
        if target_id in seen:
            raise ConfigError(f"{where}.id", f"duplicate target id {target_id!r}")
        seen.add(target_id)
        spec = TargetSpec(
            id=target_id,
            weight=_int(f"{where}.weight", table.get("weight", 1), 1),
            tier=_int(f"{where}.tier", table.get("tier", 0), 0),
            capacity=_int(f"{where}.capacity", table.get("capacity", capacity), 1),
            latency=parse_latency(table["latency"], f"{where}.latency")
            if "latency" in table
            else latency,
        )
        spec.backend()  # checks the id's length
        targets.append(spec)
    faults_data = data.get("fault", [])
    if not isinstance(faults_data, list):
        raise ConfigError(f"{source}: fault", "must be an array of [[fault]] tables")
    faults = tuple(
        parse_fault(table, f"{source}: fault[{i}]", seen) for i, table in enumerate(faults_data)
    )
    return FleetProfile(name, description, tuple(targets), faults, source)


def resolve(name_or_path: str) -> Path:
    """A profile path from a path or a bare name (looked up in targets/)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return path
    candidate = PROFILE_DIR / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    if path.exists():
        return path
    known = ", ".join(p.stem for p in sorted(PROFILE_DIR.glob("*.toml")))
    raise ConfigError(
        "--targets", f"no profile {name_or_path!r} (a .toml path, or one of: {known})"
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
    return [load_profile(str(p)) for p in sorted(PROFILE_DIR.glob("*.toml"))]
