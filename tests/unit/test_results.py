"""Result files: atomic, never overwritten, and rejected with one clear line when bad."""

from __future__ import annotations

import json

import pytest

from lbbench.results.files import FORMAT, ResultError, read_result, write_result
from lbbench.results.recorder import encode, new_histogram

EMPTY = encode(new_histogram())


def latency() -> dict:
    return {"p50": 1.0, "p90": 1.5, "p99": 2.0, "p99.9": 2.5, "max": 3.0, "mean": 1.2}


def minimal(run_id: str = "r1") -> dict:
    requests = {"sent": 3, "ok": 2, "error": 1, "timeout": 0, "unavailable": 0}
    requests |= {"overloaded": 0, "lost": 0}
    summary = {
        "requests": requests,
        "throughput_rps": 1.0,
        "latency_ms": {"corrected": latency(), "uncorrected": latency()},
        "backends": [],
        "fairness": {"jain": 1.0, "cv": 0.0, "max_over_mean": 1.0, "max_share_error": 0.0},
        "failover": {"faults": []},
        "histograms": {"corrected": EMPTY, "uncorrected": EMPTY},
    }
    scenario = {
        "key": "k",
        "profile": "p",
        "strategy": "p2c",
        "failover": "fail_fast",
        "load": {},
        "seed": 1,
        "valid": True,
        "problems": [],
        "summary": summary,
        "samples": {},
        "trials": [],
    }
    return {
        "format": FORMAT,
        "run_id": run_id,
        "created_utc": "2026-11-28T00:00:00+00:00",
        "environment": {},
        "config": {},
        "scenarios": [scenario],
    }


def test_write_then_read_round_trips_and_leaves_no_temporary_files(tmp_path):
    path = write_result(minimal(), tmp_path)
    assert read_result(path)["run_id"] == "r1"
    assert [p.name for p in tmp_path.iterdir()] == ["r1.json"]


def test_an_existing_result_is_never_overwritten(tmp_path):
    path = write_result(minimal(), tmp_path)
    before = path.read_bytes()
    with pytest.raises(ResultError, match="never overwritten"):
        write_result(minimal(), tmp_path)
    assert path.read_bytes() == before


def _write(tmp_path, text: str):
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


BAD = [
    (json.dumps(minimal())[:150], "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "not a result set"),
    (json.dumps({**minimal(), "format": "locust.stats/2"}), "unknown format 'locust.stats/2'"),
    (json.dumps({k: v for k, v in minimal().items() if k != "format"}), "unknown format None"),
    (json.dumps({**minimal(), "scenarios": []}), "scenarios: must not be empty"),
    ("[" * 100_000, "nested too deep"),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_corrupt_truncated_or_foreign_files_get_one_clear_error(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(ResultError) as caught:
        read_result(path)
    message = str(caught.value)
    assert str(path) in message and words in message and "\n" not in message


def test_a_result_whose_counts_do_not_add_up_is_rejected(tmp_path):
    data = minimal()
    data["scenarios"][0]["summary"]["requests"]["ok"] = 1
    with pytest.raises(ResultError, match=r"requests: sent 3 != outcomes \+ lost 2"):
        read_result(_write(tmp_path, json.dumps(data)))


def _with(path: str, value):
    """minimal() with the value at a dotted path (list indexes as numbers) replaced."""
    data = minimal()
    data["scenarios"][0]["samples"] = {"p99_ms": [2.0, 2.1]}
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return data


BACKEND = {"id": "b0", "weight": 1, "tier": 0, "attempts": 1, "share": 1.0}
BACKEND |= {"expected_share": 1.0, "errors": 0, "timeouts": 0}
IMPOSSIBLE = [
    # what a shared result file said, where, and the words of the one line refusing it
    ("scenarios.0.summary", None, "scenarios[0].summary: must be an object, got null"),
    ("scenarios.0.trials", "many", "scenarios[0].trials: must be a list, got str"),
    ("scenarios.0.summary.latency_ms.corrected.p99", float("nan"), "p99: must be a finite"),
    ("scenarios.0.summary.latency_ms.corrected.p99", float("inf"), "p99: must be a finite"),
    ("scenarios.0.summary.latency_ms.corrected.p99", -5, "corrected.p99: must be >= 0"),
    ("scenarios.0.summary.latency_ms.corrected.p99", 7.0, "p99: 7.0 is above p99.9 2.5"),
    ("scenarios.0.summary.latency_ms.corrected.p50", 2.5, "p50: 2.5 is above p90 1.5"),
    ("scenarios.0.summary.requests.ok", -1, "requests.ok: must be >= 0"),
    ("scenarios.0.summary.requests.sent", "3", "requests.sent: must be an integer"),
    ("scenarios.0.summary.throughput_rps", True, "throughput_rps: must be a number"),
    ("scenarios.0.samples.p99_ms", [2.0, float("nan")], "samples.p99_ms[1]: must be a finite"),
    ("scenarios.0.samples", [], "samples: must be an object"),
    ("scenarios.0.summary.backends", [{**BACKEND, "share": 1.5}], "share: must be <= 1"),
    ("scenarios.0.summary.backends", [{"id": "b0"}], "backends[0].weight: missing"),
    ("scenarios.0.samples.p99_ms", [1e308], "samples.p99_ms[0]: must be <= 1e+12"),
    ("scenarios.0.summary.histograms.corrected", "HISTFAAAA", "not an encoded HdrHistogram"),
    ("scenarios.0.summary.error_rate", -0.1, "error_rate: must be >= 0"),
    ("scenarios.0.valid", "yes", "scenarios[0].valid: must be true or false"),
    ("scenarios.0.key", 5, "scenarios[0].key: must be a str"),
    ("scenarios.0", 7, "scenarios[0]: must be an object, got int"),
    ("scenarios.0.trials", [{"requests": {"sent": 1}}], "trials[0].requests: sent 1 != "),
    ("scenarios.0.trials", [{"requests": {"sent": 0}}], "trials[0].latency_ms: missing"),
    ("scenarios.0.summary.latency_ms.corrected.p50", None, "p50: must be a number, got None"),
]


@pytest.mark.parametrize(("path", "value", "words"), IMPOSSIBLE)
def test_a_result_file_saying_what_no_measurement_can_is_one_line(tmp_path, path, value, words):
    file = _write(tmp_path, json.dumps(_with(path, value)))
    with pytest.raises(ResultError) as caught:
        read_result(file)
    message = str(caught.value)
    assert message.startswith(f"{file}: ") and words in message and "\n" not in message


def test_a_writer_killed_mid_write_leaves_nothing_a_reader_picks_up(tmp_path):
    """SIGKILL between writing and linking (as a killed `lbbench run --out` would be):
    the temporary file stays, hidden and outside ``*.json``; the folder still reads."""
    import subprocess
    import sys

    from lbbench.results.compare import load_sets

    write_result(minimal("kept"), tmp_path)
    killed_mid_write = (
        "import os, signal, sys\n"
        "from lbbench.results import files\n"
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"files.write_result({minimal('never')!r}, sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", killed_mid_write, str(tmp_path)], timeout=60)
    assert done.returncode == -9
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "kept.json"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".")
    assert not leftovers[0].endswith(".json")
    (tmp_path / ".backup-of-something.json").write_text("{not json")  # hidden: not a result
    assert [data["run_id"] for _, data in load_sets([str(tmp_path)])] == ["kept"]
