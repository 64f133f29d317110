"""``lbbench sim`` from the command line: result sets, compare and report on them, bad input."""

from __future__ import annotations

import json
import time

import pytest

from lbbench.results.files import read_result
from tests.blocked import run_blocked
from tests.cli.test_bad_input import lbbench

BAD = [
    # arguments, words the one-line error must contain
    (["--backends", "0"], "--backends: must be >= 1"),
    (["--backends", "10", "--targets", "uniform"], "--backends: a synthetic fleet or --targets"),
    (["--backends", "10", "--slow-fraction", "2"], "--slow-fraction: must be <= 1"),
    (["--backends", "10", "--utilization", "-1"], "--utilization: must be > 0"),
    (["--backends", "10", "--latency", "gamma:k=2"], "--latency.dist: unknown distribution"),
    (["--backends", "10", "--latency", "exponential:mean_ms=x"], "--latency mean_ms: not a number"),
    (["--strategy", "fastest"], "unknown strategy 'fastest'"),
    (["--strategy", "p2c", "--failover", "pray"], "pray"),
    (["--strategy", "p2c", "--requests", "0"], "--requests: must be >= 1"),
    (["--suite", "nope"], "--suite: unknown suite 'nope'"),
    (["--against", "x.json"], "--against: goes with --validate"),
    (["--hop-us", "-5"], "--hop-us: must be >= 0"),
    (["--rate", "10", "--utilization", "0.5"], "not allowed with argument"),
    (["--set", "failover.retry.budget_ratio=-1"], "failover.retry.budget_ratio: must be >= 0"),
    (["--set", "failover.retry.tries=2"], "failover.retry.tries: retry has no setting 'tries'"),
    (["--set", "turbo=on"], "turbo: unknown setting"),
    (["--set", "budget"], "--set: expected name=value"),
]


@pytest.mark.parametrize("args, words", BAD)
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path):
    done = lbbench("sim", *args, "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_synthetic_fleet_run_writes_a_simulated_result_set(tmp_path):
    done = lbbench(
        "sim", "--backends", "200", "--slow-fraction", "0.05", "--utilization", "0.6",
        "--requests", "20000", "--strategy", "round_robin,p2c", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (path,) = tmp_path.iterdir()
    data = read_result(path)
    assert json.loads(done.stdout)["run_id"] == data["run_id"]
    assert data["config"]["simulated"] is True
    assert [s["strategy"] for s in data["scenarios"]] == ["round_robin", "p2c"]
    for scenario in data["scenarios"]:
        assert scenario["simulated"] is True and scenario["valid"]
        assert len(scenario["summary"]["backends"]) == 200
        requests = scenario["summary"]["requests"]
        assert requests["sent"] == requests["ok"] > 19_000
    # same seed, same arrivals: the two strategies saw the same requests
    sent = {s["summary"]["requests"]["sent"] for s in data["scenarios"]}
    assert len(sent) == 1


def test_settings_given_by_path_run_and_are_recorded(tmp_path):
    done = lbbench(
        "sim", "--targets", "crash-recover", "--strategy", "p2c", "--failover", "eject,retry",
        "--set", "failover.retry.budget_ratio=0.2", "--set", "failover.eject.base_ejection_s=2",
        "--duration", "3", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (scenario,) = read_result(next(tmp_path.iterdir()))["scenarios"]
    assert scenario["settings"] == {
        "failover.retry.budget_ratio": 0.2,
        "failover.eject.base_ejection_s": 2,
    }
    resolved = scenario["router_settings"]
    assert resolved["failover.retry.budget_ratio"] == 0.2
    assert resolved["failover.eject.base_ejection_s"] == 2.0
    assert resolved["failover.retry.max_attempts"] == 3  # the defaults too: the file reproduces
    assert scenario["key"].endswith(
        "/failover.retry.budget_ratio=0.2,failover.eject.base_ejection_s=2"
    )
    ejections = [e for t in scenario["trials"] for e in t["events"] if e["kind"] == "eject"]
    assert ejections and "out for 2.000 s" in ejections[0]["detail"]


def test_compare_and_report_work_on_simulated_sets(tmp_path):
    out = tmp_path / "results"
    for seed in ("1", "2"):
        done = lbbench(
            "sim", "--targets", "one-slow", "--strategy", "p2c", "--rate", "800",
            "--duration", "2", "--trials", "4", "--seed", seed, "--out", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    first, second = sorted(out.iterdir())
    compared = lbbench("compare", str(first), str(second), "--json")
    assert compared.returncode == 0, compared.stderr
    rows = json.loads(compared.stdout)["comparisons"][0]["rows"]
    assert {r["method"] for r in rows} == {"mann-whitney"}
    report = lbbench("report", str(first), str(second), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_validate_against_a_file_that_is_not_a_result_set(tmp_path):
    bogus = tmp_path / "bogus.json"
    bogus.write_text("[]")
    done = lbbench("sim", "--validate", "--requests", "1000", "--against", str(bogus))
    assert done.returncode == 2
    assert str(bogus) in done.stderr.strip().splitlines()[-1]


LOCUST_BAD = [
    (["locust", "--strategy", "fastest"], "unknown strategy 'fastest'"),
    (["locust", "--targets", "nowhere"], "--targets: no profile 'nowhere'"),
    (["locust", "--locustfile", "missing.py"], "--locustfile: no such file: missing.py"),
    (["locust", "--pacing-s", "0"], "--pacing-s: must be > 0"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("args, words", LOCUST_BAD)
def test_locust_bad_input_fails_before_anything_starts(args, words):
    done = lbbench(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr


GRPC_BAD = [
    (["run", "--strategy", "grpc:least_request"], "unknown grpc policy 'least_request'"),
    (["run", "--strategy", "grpc:round_robin", "--failover", "hedge"], "hedge has no grpcio"),
    (["sim", "--strategy", "grpc:round_robin"], "grpc: policies run inside grpcio"),
    (["locust", "--strategy", "grpc:round_robin"], "grpcio's policies balance inside each client"),
    (["gateway", "--timeout", "0"], "--timeout: must be > 0"),
]


@pytest.mark.parametrize("args, words", GRPC_BAD)
def test_grpc_bad_input_names_what_is_supported(args, words):
    done = lbbench(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
    if "unknown grpc policy" in words:
        assert "grpc:pick_first, grpc:round_robin" in lines[0]


SUITE = """
name = "mine"
trials = 2

[defaults]
fleet = "uniform"
load = { utilization = 0.5, duration_s = 1 }

[[scenario]]
name = "grid"
matrix.strategy = ["p2c", "peak_ewma"]
matrix."failover.modes" = ["fail_fast", "eject+retry"]
"""


def test_a_suite_file_simulates_every_cell_with_its_settings_recorded(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(SUITE)
    done = lbbench("sim", str(path), "--set", "deadline_s=0.5", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    (result,) = (tmp_path / "out").iterdir()
    data = read_result(result)
    assert data["config"]["suite"] == "mine" and data["config"]["suite_file"] == str(path)
    cells = [s["cell"] for s in data["scenarios"]]
    assert cells == [
        {"strategy": "p2c", "failover.modes": "fail_fast"},
        {"strategy": "p2c", "failover.modes": "eject+retry"},
        {"strategy": "peak_ewma", "failover.modes": "fail_fast"},
        {"strategy": "peak_ewma", "failover.modes": "eject+retry"},
    ]
    assert len({s["key"] for s in data["scenarios"]}) == 4
    for scenario in data["scenarios"]:
        assert scenario["group"] == "grid" and len(scenario["trials"]) == 2
        assert scenario["router_settings"]["deadline_s"] == 0.5
        assert scenario["load"]["rate"] == 4000.0  # half of 4 x 4 / 2 ms


def test_list_shows_a_suite_to_copy(tmp_path):
    done = lbbench("list", "--show", "default")
    assert done.returncode == 0
    copy = tmp_path / "default.toml"
    copy.write_text(done.stdout)
    done = lbbench("sim", str(copy), "--duration", "0.5", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr


RANKED = """
name = "three"
trials = 6

[defaults]
fleet = "one-slow"
load = { rate = 1500, duration_s = 1 }

[[scenario]]
name = "{strategy}"
matrix.strategy = ["round_robin", "p2c", "peak_ewma"]

[rank]
by = ["p99"]
"""


def test_rank_orders_an_experiment_and_says_the_answer(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text(RANKED)
    done = lbbench("sim", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "peak_ewma has the lowest p99" in done.stdout.replace("\n", " ")  # the suite's [rank]
    ranked = lbbench("rank", str(tmp_path / "out"), "--by", "p99", "--json")
    assert ranked.returncode == 0, ranked.stderr
    (ranking,) = json.loads(ranked.stdout)
    assert ranking["rows"][0]["name"] == "peak_ewma"
    assert ranking["rows"][-1]["name"] == "round_robin"
    last = ranking["rows"][-1]["against_best"]["p99"]
    assert last["p_adjusted"] < 0.05 and last["cliffs_delta"] == 1.0
    assert ranking["answer"].startswith("peak_ewma has the lowest p99")


def test_rank_refuses_too_few_trials_and_compare_points_to_it(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text(RANKED)
    out = tmp_path / "out"
    assert lbbench("sim", str(path), "--trials", "2", "--out", str(out)).returncode == 0
    done = lbbench("rank", str(out))
    assert done.returncode == 3
    assert "too few trials" in done.stdout and "--trials 5" in done.stdout
    (result,) = out.iterdir()
    other = tmp_path / "other"
    assert (
        lbbench("sim", "--targets", "uniform", "--duration", "1", "--out", str(other)).returncode
        == 0
    )
    compared = lbbench("compare", str(result), str(other))
    assert compared.returncode == 1
    assert "use lbbench rank" in compared.stdout.replace("\n", " ")


def test_compare_warns_when_a_simulation_meets_a_live_run(tmp_path):
    done = lbbench("sim", "--targets", "uniform", "--duration", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (simulated,) = tmp_path.iterdir()
    data = json.loads(simulated.read_text())
    for scenario in data["scenarios"]:
        scenario["simulated"] = False  # as a live run of the same scenario would be
    live = tmp_path / "live.json"
    live.write_text(json.dumps(data))
    compared = lbbench("compare", str(live), str(simulated))
    assert compared.returncode == 0
    assert "compares models" in compared.stderr.replace("\n", " ")


LIVE_STACK = ("zmq", "grpc", "grpc_health", "locust", "gevent")


def test_sim_and_the_api_run_without_the_live_stack(tmp_path):
    """A simulation-only install (a Dask worker, a laptop without pyzmq) runs ``lbbench sim``
    and ``lbbench.api``: pyzmq, grpcio and locust blocked from importing."""
    body = f"""
from lbbench.cli import main
code = main(["sim", "smoke", "--trials", "1", "--duration", "1", "--out", {str(tmp_path)!r}])
import lbbench.api as lb
result = lb.run("smoke", simulated=True, trials=1)
print(code, len(result.scenarios))
"""
    done = run_blocked(LIVE_STACK, body, timeout_s=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["0", "1"], done.stdout[-500:]


RUNAWAY = """
name = "runaway"
[defaults]
fleet = "uniform"
load = { rate = 200, duration_s = 1 }
[[scenario]]
name = "cell"
matrix.strategy = ["round_robin", "random", "p2c", "least_connections", "peak_ewma",
                   "weighted_random", "weighted_round_robin", "probing", "adaptive", "random"]
matrix."failover.retry.budget_ratio" = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]
matrix."failover.retry.max_attempts" = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
matrix."failover.eject.consecutive_failures" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
matrix."failover.eject.base_ejection_s" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
matrix."failover.hedge.percentile" = [50, 55, 60, 65, 70, 75, 80, 85, 90, 95]
matrix.deadline_s = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
"""


def test_a_runaway_matrix_is_refused_before_it_is_made_and_a_pick_from_it_runs(tmp_path):
    """Seven axes of ten values: ten million cells. Refused at once, in one line, with the
    count, an estimate and the way on; --only picks cells from it without making the rest."""
    suite = tmp_path / "runaway.toml"
    suite.write_text(RUNAWAY)
    out = tmp_path / "out"
    started = time.monotonic()
    done = lbbench("sim", str(suite), "--out", str(out))
    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    for words in ("10,000,000 scenarios", "over the limit of 10,000", "h simulated", "--only",
                  "--max-scenarios 10000000"):  # fmt: skip
        assert words in line, line
    assert not out.exists()
    # two axes fewer: 100 000 cells, still over the limit, picked from
    suite.write_text("\n".join(line for line in RUNAWAY.splitlines() if "eject" not in line))
    one = "cell: p2c, 0.05, 3, 90, 1.0"
    done = lbbench("sim", str(suite), "--only", one, "--trials", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    (scenario,) = read_result(next(out.iterdir()))["scenarios"]
    assert scenario["name"] == one
    done = lbbench("sim", str(suite), "--only", "cell: *", "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert "100,000 scenarios" in done.stderr  # all picked: still too many
    done = lbbench("sim", str(suite), "--max-scenarios", "0", "--out", str(out))
    assert "--max-scenarios: must be >= 1" in done.stderr
