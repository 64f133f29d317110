"""Which build of the core is running: compiled by mypyc (setup.py) or pure Python; and
whether a compiled module is older than its source.

After ``pip install -e .`` the compiled modules (``router.cpython-311-...so``)
sit beside their sources in the work tree, and Python loads the compiled
one first: an edit to ``lbbench/core/router.py`` changes nothing until the
next install. ``stale_modules`` finds such sources, and the command line
and the pytest plugin say so in one line.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

# An install writes a module's source and its compiled copy moments apart, in
# either order; an edit comes later than that.
_INSTALL_SLACK_S = 2.0


def build() -> str:
    """ "compiled" when the hot modules run as C extensions, else "pure" (same results)."""
    from lbbench.core import router

    return "pure" if router.__file__.endswith(".py") else "compiled"


def stale_modules(package: Path | None = None) -> list[Path]:
    """The sources edited after their compiled copy was built (which Python still runs)."""
    root = package or Path(__file__).resolve().parent.parent
    stale = []
    for suffix in EXTENSION_SUFFIXES:
        for compiled in root.rglob(f"*{suffix}"):
            source = compiled.with_name(compiled.name[: -len(suffix)] + ".py")
            try:
                if source.stat().st_mtime > compiled.stat().st_mtime + _INSTALL_SLACK_S:
                    stale.append(source)
            except OSError:
                continue
    return sorted(stale)


def stale_warning(package: Path | None = None) -> str | None:
    """One line naming the stale sources and what to do, or None."""
    stale = stale_modules(package)
    if not stale:
        return None
    names = ", ".join(path.name for path in stale[:3]) + (" ..." if len(stale) > 3 else "")
    return (
        f"lbbench: warning: {len(stale)} compiled module(s) older than their source ({names}): "
        "Python runs the compiled copy; reinstall (pip install -e .) to see your edits, or "
        "develop on the pure build (LBBENCH_PURE=1 pip install -e .)"
    )
