"""Result files: atomic, never overwritten, and rejected with one clear line when bad."""

from __future__ import annotations

import json

import pytest

from lbbench.results.files import FORMAT, ResultError, read_result, write_result


def minimal(run_id: str = "r1") -> dict:
    requests = {"sent": 3, "ok": 2, "error": 1, "timeout": 0, "unavailable": 0}
    requests |= {"overloaded": 0, "lost": 0}
    summary = {
        "requests": requests,
        "throughput_rps": 1.0,
        "latency_ms": {},
        "backends": [],
        "fairness": {},
        "failover": {},
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
    (json.dumps({**minimal(), "scenarios": []}), "non-empty list"),
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
    with pytest.raises(ResultError, match="sent 3 != outcomes 2"):
        read_result(_write(tmp_path, json.dumps(data)))


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
