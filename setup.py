"""The build: pyproject.toml says what lbbench is; this compiles its hot modules.

The pure decision core (router, strategies, failover policies, service
queues), the simulator's engine and the recorder are compiled to C
extensions with mypyc, which makes the simulator and the balancer's
bookkeeping several times faster with the very same source. Where that
cannot be done (no C compiler, mypyc missing, or LBBENCH_PURE=1 in the
environment) the same modules install as plain Python and behave the same;
`lbbench list` says which build is running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent

# The modules on the hot paths; each must type-check under mypy, and
# nothing outside this list may subclass their classes unless marked
# allow_interpreted_subclasses (strategies and failover policies are).
COMPILED = [
    "lbbench/core/actions.py",
    "lbbench/core/backends.py",
    "lbbench/core/composition.py",
    "lbbench/core/pools.py",
    "lbbench/core/records.py",
    "lbbench/core/router.py",
    "lbbench/core/service.py",
    "lbbench/core/fault_state.py",
    "lbbench/core/target_model.py",
    *sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "lbbench/core/strategies").glob("*.py")
        if path.name != "__init__.py"
    ),
    # Not the failover policies: their settings are frozen dataclasses with
    # class constants, which compiled dataclasses take for fields. They run
    # as Python, called from the compiled router.
    "lbbench/sim/engine.py",
    "lbbench/sim/events.py",
    "lbbench/sim/targets.py",
    "lbbench/results/recorder.py",
]
# Nor the modules whose dataclasses are read from files by lbbench.schema
# (faults, latency models, load): it reads their field types, which a
# compiled dataclass does not keep.


def _pure() -> list:
    """Install as plain Python: and remove what an earlier compiled build left in the
    tree (an editable install's extensions sit beside their sources and would still be
    imported instead of them, pointing at a shared library that is no longer built)."""
    for stale in [*ROOT.glob("*__mypyc.*"), *(ROOT / "lbbench").rglob("*.so"),
                  *(ROOT / "lbbench").rglob("*.pyd")]:  # fmt: skip
        stale.unlink(missing_ok=True)
    return []


def _extensions() -> list:
    if os.environ.get("LBBENCH_PURE"):
        print("lbbench: LBBENCH_PURE is set: installing pure Python", file=sys.stderr)
        return _pure()
    try:
        from mypyc.build import mypycify

        return mypycify(["--config-file", str(ROOT / "pyproject.toml"), *COMPILED], opt_level="3")
    except (Exception, SystemExit) as error:  # no mypyc, a type error: run as Python
        print(f"lbbench: not compiled ({error}); installing pure Python", file=sys.stderr)
        return _pure()


class BuildOrFallBack(build_ext):
    """Compile the extensions; if the C compiler fails, install the pure Python instead."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            print(f"lbbench: compiling failed ({error}); installing pure Python", file=sys.stderr)
            self.extensions = _pure()


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildOrFallBack})
