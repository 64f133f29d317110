"""pyproject.toml lists every package of the source tree (a wheel carries only those listed)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_of_the_source_tree_is_listed():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = setuptools["package-dir"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "lbbench").rglob("__init__.py")
    }
    on_disk |= {name for name, folder in mapped.items() if (ROOT / folder / "__init__.py").exists()}
    assert set(setuptools["packages"]) == on_disk
    assert set(mapped) == {"lbbench.targets", "lbbench.locustfiles", "lbbench.suites"}
