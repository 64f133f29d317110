"""The suites that come with lbbench (``suites/*.toml``, shipped as ``lbbench.suites``),
and finding a suite by name or path; ``default`` is what ``lbbench run`` runs with no options."""

from __future__ import annotations

from pathlib import Path

from lbbench.errors import ConfigError
from lbbench.scenario.profiles import shipped_files
from lbbench.scenario.suite_file import Suite, read_suite


def shipped_suites() -> dict[str, Path]:
    """The shipped suite files by name (``lbbench.suites``)."""
    return shipped_files("lbbench.suites")


def find_suite(name_or_path: str, where: str = "--suite") -> Path:
    """A suite file: a path to a .toml file, or the name of a shipped suite."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.exists():
            raise ConfigError(where, f"no such suite file: {name_or_path}")
        return path
    known = shipped_suites()
    if name_or_path in known:
        return known[name_or_path]
    raise ConfigError(
        where,
        f"unknown suite {name_or_path!r} (a .toml path, or one of: {', '.join(known)})",
    )


def load_suite(name_or_path: str, *, trials: int | None = None, seed: int | None = None) -> Suite:
    """Find and read a suite, ``trials`` and ``seed`` overriding the file's when given."""
    return read_suite(find_suite(name_or_path), trials=trials, seed=seed)
