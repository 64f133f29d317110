"""Result files are untrusted input: mutated copies of a real one, handed to the five commands
that read them (rank, compare, report, gate, map), give a result or one line with exit 2,
never a traceback, and never take a figure no measurement can have (issue 24).

Hypothesis picks a place in a real result set (a simulated winner-map sweep: it has a map,
trials and samples) and what to do there: delete it, or put null, text, a negative number,
NaN, infinity, a list, an object, a boolean or a huge number in its place.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbbench.cli import main
from lbbench.results.file_schema import SIGNED_SAMPLES

CELL = "| crash, 10 backends, load 0.6, 5% slow x2"
CONTENDERS = ("round_robin fail_fast", "probing eject+retry")  # two: enough for a map
GONE = object()  # the mutation that deletes the place
VALUES = [GONE, None, "x", -5, math.nan, math.inf, [], {}, True, 1e308, 0]
# Where a number a reader uses lives (the declared figures): NaN, infinity or -5 there
# must be refused by every command.
FIGURES = re.compile(
    r"^scenarios\.\d+\.(summary|trials\.\d+)\."
    r"(requests|latency_ms|throughput_rps|error_rate|rif|fairness|failover|backends)\b"
    r"|^scenarios\.\d+\.samples\.(?P<sample>[^.]+)\.\d+$"
)


def run(*args: str) -> tuple[int, str]:
    """``lbbench ARGS`` in this process: (exit code, stderr); any exception escapes."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, err.getvalue()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    only = [flag for name in CONTENDERS for flag in ("--only", f"{name} {CELL}")]
    code, err = run("sim", "winner-map", *only, "--trials", "2", "--duration", "1",
                    "--workers", "1", "--out", str(out), "--json")  # fmt: skip
    assert code == 0, err
    made = next(out.glob("*.json"))
    # The same tree wherever the test runs (how pytest was called, the commit): the same
    # places for hypothesis to draw from, so a failure here is a failure everywhere.
    data = json.loads(made.read_text())
    data["environment"] = {"python": "3", "argv": ["sim", "winner-map"], "git_commit": None}
    data["run_id"] = "sweep"
    fixed = out / "sweep.json"
    fixed.write_text(json.dumps(data))
    made.unlink()
    return fixed


def places(node, path: tuple = ()) -> list[tuple]:
    """Every place in the JSON tree (a tuple of keys and list indexes), the root excluded."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in items:
        here = (*path, key)
        found.append(here)
        if isinstance(child, dict | list):
            found.extend(places(child, here))
    return found


def mutated(data, place: tuple, value):
    data = json.loads(json.dumps(data))
    *parents, key = place
    node = data
    for step in parents:
        node = node[step]
    original = node[key]
    if value is GONE:
        del node[key]
    else:
        node[key] = value
    return data, original


@pytest.fixture(scope="module")
def tree(sweep):
    data = json.loads(sweep.read_text())
    return data, places(data)


FUZZ = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=25, derandomize=True, **FUZZ)
@given(choice=st.data())
def test_mutated_result_files_give_a_result_or_one_line(tree, sweep, tmp_path, choice):
    check_a_mutation(tree, sweep, tmp_path, choice)


@pytest.mark.slow
@settings(max_examples=150, **FUZZ)
@given(choice=st.data())
def test_many_more_mutated_result_files(tree, sweep, tmp_path, choice):
    """CI's longer fuzzing (``-m slow``), with new draws each run."""
    check_a_mutation(tree, sweep, tmp_path, choice)


def check_a_mutation(tree, sweep, tmp_path, choice) -> None:
    data, paths = tree
    place = choice.draw(st.sampled_from(paths), label="place")
    value = choice.draw(st.sampled_from(VALUES), label="value")
    bad, original = mutated(data, place, value)
    file = tmp_path / f"mutated-{abs(hash((place, repr(value))))}.json"
    file.write_text(json.dumps(bad))  # (json writes NaN and Infinity, as Python's would)
    figure = FIGURES.match(".".join(map(str, place)))
    impossible = (
        figure is not None
        and isinstance(original, int | float)
        and not isinstance(original, bool)
        and value is not GONE
        and (value in (-5,) or (isinstance(value, float) and not math.isfinite(value)))
        and not (value == -5 and figure.group("sample") in SIGNED_SAMPLES)
    )
    commands = [
        ("rank", str(file)),
        ("compare", str(sweep), str(file)),
        ("gate", str(file), "--baseline", str(sweep)),
        ("map", str(file)),
        ("report", str(file), "--out", str(tmp_path / "report.html")),
    ]
    for command in commands:
        code, err = run(*command)
        assert code in (0, 1, 2, 3), (command, place, value, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("lbbench: error: "), (command, err)
        if impossible:
            assert code == 2, f"{command[0]} took {value!r} at {place} (was {original!r})"
