"""Bad input on the command line: one line naming what and where, exit code 2."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def lbbench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lbbench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PROFILES = [
    # file text, words the error must contain
    ('name = "x"\n[[target]\nid = 1', "invalid TOML"),
    ('[[target]]\nid = "t0"\nweight = 0', "target[0].weight: must be >= 1"),
    ('[[target]]\nid = "t0"\n[[target]]\nid = "t0"', "target[1].id: duplicate target id"),
    (
        '[[target]]\nid = "t0"\n[[fault]]\nat_s = 1\ntarget = "t0"\nkind = "melt"',
        "fault[0].kind: unknown fault kind 'melt'",
    ),
    (
        '[[target]]\nid = "t0"\n[[fault]]\nat_s = 1\ntarget = "t9"\nkind = "hang"',
        "fault[0].target: no target with id 't9'",
    ),
    (
        '[defaults]\nlatency = { dist = "gamma", k = 2 }\n[[target]]\nid = "t0"',
        "defaults.latency.dist: unknown distribution 'gamma'",
    ),
    ('[[target]]\nid = "t0"\ncolour = "red"', "target[0].colour: unknown key"),
]


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(("text", "words"), PROFILES)
def test_a_bad_profile_is_one_line_naming_the_file_and_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    done = lbbench("run", "--targets", str(path), "--duration", "1", "--out", str(tmp_path))
    assert_one_line_error(done, str(path), words)
    assert not list(tmp_path.glob("*.json")), "no result may be written for bad input"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--strategy", "fastest"], ["strategy", "unknown strategy 'fastest'"]),
        (["run", "--failover", "retry,pray"], ["--failover", "unknown failover mode 'pray'"]),
        (["run", "--suite", "nightly"], ["--suite", "unknown suite 'nightly'"]),
        (["run", "--suite", "smoke", "--rate", "100"], ["--rate", "does not apply to a suite"]),
        (["run", "smoke", "--strategy", "p2c"], ["--strategy", "does not apply to a suite"]),
        (["run", "smoke", "--suite", "default"], ["--suite", "give the suite once"]),
        (["run", "nowhere.toml"], ["--suite", "no such suite file"]),
        (["run", "--suite", "scale"], ["--suite", "simulator suite"]),
        (["run", "--set", "failover.retry.budget_ratio=-1"], ["failover.retry.budget_ratio"]),
        (["balancer", "--set", "turbo=1"], ["turbo", "unknown setting"]),
        (["sim", "--strategy", "p2c", "--balancers", "0"], ["--balancers", "must be >= 1"]),
        (["sim", "--set", "balancers=2.5"], ["balancers", "must be an integer"]),
        (
            ["sim", "--strategy", "p2c", "--balancers", "3", "--set", "balancers_split=pareto"],
            ["balancers_split", "unknown split 'pareto'"],
        ),
        (
            ["sim", "--strategy", "round_robin", "--set", "view=reports"],
            ["view", "round_robin cannot use view 'reports'"],
        ),
        (
            ["run", "--strategy", "grpc:round_robin", "--balancers", "3"],
            ["balancers", "3 balancers of grpc: many balancers are lbbench's"],
        ),
        (
            ["run", "--strategy", "p2c", "--balancer", "envoy", "--balancers", "3"],
            ["balancers", "3 balancers of envoy: many balancers are lbbench's"],
        ),
        (
            ["locust", "--strategy", "p2c", "--set", "balancers=3"],
            ["balancers", "not with lbbench locust"],
        ),
        (["balancer", "--index", "-1"], ["--index", "must be >= 0"]),
        (
            ["run", "--strategy", "p2c", "--set", "view=reports", "--set", "view_period_s=0.001"],
            ["view_period_s", "live targets post their load at most every 0.01 s"],
        ),
        (
            [
                "balancer",
                "--strategy",
                "p2c",
                "--set",
                "view=reports",
                "--set",
                "view_period_s=0.001",
            ],
            ["view_period_s", "live targets post their load at most every 0.01 s"],
        ),
        (["target", "--report-every", "0.001"], ["--report-every", "must be >= 0.01"]),
        (["target", "--report-delay", "-1"], ["--report-delay", "must be >= 0"]),
        (
            ["sim", "--balancer", "envoy", "--strategy", "p2c", "--balancers", "3"],
            ["balancers", "many balancers are lbbench's"],
        ),
        (["run", "--rate", "-5"], ["--rate", "must be > 0"]),
        (["run", "--rate", "100", "--arrival", "bursty"], ["--arrival", "unknown 'bursty'"]),
        (["run", "--targets", "nowhere"], ["--targets", "no profile 'nowhere'"]),
        (["run", "--rate", "fast"], ["argument --rate: invalid float value"]),
        (["balancer", "--strategy", "p3c"], ["strategy", "unknown strategy 'p3c'"]),
        (
            ["balancer", "--strategy", "maglev", "--option", "table_size=100"],
            ["strategy_options.table_size", "prime"],
        ),
        (["target", "--targets", "uniform", "--id", "t7"], ["no target with id 't7'"]),
        (["target", "--id", "<b>t0</b>"], ["id", "only letters, digits"]),
        (
            ["balancer", "--settings-json", '{"strategy": "p2c"}', "--strategy", "p2c"],
            ["--strategy", "does not go with --settings-json"],
        ),
        (["balancer", "--settings-json", "{strategy"], ["--settings-json", "not JSON"]),
        (["balancer", "--settings-json", "[1]"], ["--settings-json", "a JSON object"]),
        (
            ["balancer", "--settings-json", '{"failover.retry.budget_ratio": -1}'],
            ["--settings-json.failover.retry.budget_ratio", "must be >= 0"],
        ),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(tmp_path, args, words):
    done = lbbench(*args, "--out", str(tmp_path)) if args[0] == "run" else lbbench(*args)
    assert_one_line_error(done, *words)


def test_a_port_in_use_names_the_address():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        address = f"tcp://127.0.0.1:{port}"
        done = lbbench("balancer", "--frontend", address, "--control", "tcp://127.0.0.1:*")
    assert_one_line_error(done, "--frontend", address, "already in use")


SUITES = [
    # suite file text, words the one-line error must contain
    ("[[scenario]]\nfleet = 'uniform'\nfailover = 'retry+pray'", "scenario[0].failover: unknown"),
    ("[[scenario]]\nfleet = 'uniform'\nload = { rate = 0 }", "scenario[0].load.rate: must be > 0"),
    ("[[scenario]]\nfleet = 'uniform'\n[rank]\nby = ['speed']", "rank.by: unknown metric 'speed'"),
    ("[[scenario]]\nfleet = 'uniform'\n[gate]\nfail_on = 'p99'", "gate.fail_on: 'p99': expected"),
    (
        "[[scenario]]\nname = 'a'\nfleet = 'uniform'\n[published]\nsource = 'x'\n"
        "[[published.figure]]\nscenario = 'a'\nmetric = 'success'\nvalue = 0.9",
        "published.figure[0].metric: unknown metric 'success'",
    ),
]


@pytest.mark.parametrize(("text", "words"), SUITES)
@pytest.mark.parametrize("command", ["run", "sim"])
def test_a_bad_suite_file_is_one_line_naming_the_file_and_key(tmp_path, text, words, command):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    out = tmp_path / "out"
    done = lbbench(command, str(path), "--out", str(out))
    assert_one_line_error(done, f"{path}: {words}")
    assert not out.exists(), "no result may be written for bad input"
