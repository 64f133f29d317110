"""A pytest plugin: run lbbench suites in your own tests and assert on their answers.

Installed with lbbench (the ``pytest11`` entry point), it gives every test
session the ``lbbench`` fixture:

```python
def test_my_choice_holds_the_tail(lbbench):
    result = lbbench.run("suites/mine.toml", simulated=True, trials=8)
    (ranking,) = result.rank(by=["p99"])
    assert ranking.best.name == "peak_ewma with eject+retry", ranking.answer
```

Result sets go to a folder of the test's own (``--lbbench-out DIR`` keeps
them), each run's figures are attached to the test's report
(``user_properties``), and ``lbbench.record(benchmark, result)`` puts them
into pytest-benchmark's JSON as ``extra_info``. ``--lbbench-live`` runs
the suites that tests ask to simulate on the live rig instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("lbbench")
    group.addoption(
        "--lbbench-out", default=None, help="keep the result sets of lbbench runs in this folder"
    )
    group.addoption(
        "--lbbench-live",
        action="store_true",
        help="run suites on the live rig even where a test asks for the simulator",
    )


def pytest_report_header(config: Any) -> list[str]:
    """The build under test, and a warning when an edited source is not what runs."""
    from lbbench.core.build import build, stale_warning

    stale = stale_warning()
    return [f"lbbench: {build()} build", *([stale] if stale else [])]


class Lbbench:
    """What the ``lbbench`` fixture gives a test."""

    def __init__(self, request: Any, out: Path) -> None:
        self._request = request
        self.out = out

    def run(self, suite: Any, *, simulated: bool = True, **options: Any) -> Any:
        """``lbbench.api.run`` with the results kept for the test (simulated by default)."""
        from lbbench.api import run

        if self._request.config.getoption("--lbbench-live"):
            simulated = False
        result = run(suite, simulated=simulated, out=self.out, **options)
        self._request.node.user_properties.append(("lbbench", result.figures()))
        return result

    def read(self, path: Any) -> Any:
        from lbbench.api import read

        return read(path)

    @staticmethod
    def record(benchmark: Any, result: Any) -> None:
        """A run's figures into pytest-benchmark's ``extra_info`` (its JSON keeps them)."""
        benchmark.extra_info.update({"lbbench": result.figures()})


@pytest.fixture
def lbbench(request: Any, tmp_path: Path) -> Lbbench:
    """Run lbbench suites from a test (see ``lbbench.pytest_plugin``)."""
    kept = request.config.getoption("--lbbench-out")
    return Lbbench(request, Path(kept) if kept else tmp_path / "lbbench")
