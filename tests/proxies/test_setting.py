"""``balancer`` as a scenario setting: flags, suite files, matrix axes, keys and results."""

from __future__ import annotations

import json
import os
import tomllib

import pytest

from lbbench.errors import ConfigError
from lbbench.results.trial import scenario_entry
from lbbench.scenario.suite_file import parse_suite
from lbbench.sim.live import scenario_from_entry
from lbbench.sim.rig import SimRig
from tests.cli.test_bad_input import assert_one_line_error, lbbench
from tests.proxies.helpers import binary_or_skip

SUITE = """
name = "side-by-side"
[defaults]
fleet = "heterogeneous"
load = { rate = 200, duration_s = 1 }
[defaults.balancer.envoy]
bin = "/opt/envoy/bin/envoy"
[[scenario]]
name = "{balancer} {strategy}"
matrix.balancer = ["lbbench", "envoy", "haproxy", "nginx"]
matrix.strategy = ["round_robin", "p2c"]
[[scenario]]
name = "grpcio"
balancer = "grpc"
strategy = "round_robin"
[[scenario]]
name = "envoy with a raw cluster"
balancer = "envoy"
"balancer.envoy.cluster" = { connect_timeout = "1s" }
"""


def suite(text: str = SUITE):
    return {s.name: s for s in parse_suite(tomllib.loads(text), "side.toml").scenarios}


def test_a_matrix_of_balancers_makes_one_scenario_each_keyed_by_the_proxy():
    scenarios = suite()
    assert scenarios["envoy p2c"].balancer == "envoy"
    assert "/envoy:p2c/" in scenarios["envoy p2c"].key
    assert "/haproxy:round_robin/" in scenarios["haproxy round_robin"].key
    # lbbench's own keys are as they always were
    assert "/p2c/" in scenarios["lbbench p2c"].key and ":" not in scenarios["lbbench p2c"].key
    # where the binary is does not change what is measured; raw config does
    assert "bin" not in scenarios["envoy p2c"].key
    assert "balancer.envoy.cluster=" in scenarios["envoy with a raw cluster"].key


def test_balancer_grpc_is_the_grpc_strategy_prefix():
    grpcio = suite()["grpcio"]
    assert grpcio.strategy == "grpc:round_robin" and grpcio.balancer == "grpc"


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ('balancer = "traefik"', "unknown balancer 'traefik' (known: lbbench, grpc, envoy"),
        ('balancer = "haproxy"\nstrategy = "maglev"', "haproxy has no equivalent of maglev"),
        ('balancer = "envoy"\n"balancer.envoy.colour" = 1', "envoy takes bin, cluster, route"),
    ],
)
def test_a_balancer_setting_it_cannot_take_is_one_line_naming_where(change, line):
    text = f'name = "x"\n[[scenario]]\nname = "one"\nfleet = "heterogeneous"\n{change}\n'
    with pytest.raises(ConfigError) as refused:
        suite(text)
    assert line in str(refused.value) and "x.toml" not in str(refused.value)
    assert "side.toml" in str(refused.value)


def test_the_result_records_the_balancer_and_rebuilds_the_same_scenario():
    scenario = suite()["envoy with a raw cluster"]
    trial = SimRig().run_trial(scenario, 0)
    entry = json.loads(json.dumps(scenario_entry(scenario, [trial], simulated=True)))
    assert entry["balancer"] == "envoy"
    assert scenario_from_entry(entry, "r.json").key == scenario.key


def test_a_simulated_proxy_scenario_says_it_ran_lbbenchs_equivalent():
    trial = SimRig().run_trial(suite()["envoy p2c"], 0)
    assert (
        "lbbench's equivalent of the envoy configuration"
        in (trial["strategy_status"]["simulated_as"])
    )


def test_a_missing_proxy_binary_is_one_line_saying_how_to_get_it(tmp_path):
    env = {**os.environ, "LBBENCH_NGINX": str(tmp_path / "no-nginx")}
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "lbbench", "run", "--balancer", "nginx", "--duration", "1",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert_one_line_error(done, "balancer.nginx.bin: no executable file at")
    assert not list(tmp_path.glob("*.json"))


def test_an_unmapped_strategy_on_the_command_line_is_one_line(tmp_path):
    done = lbbench("run", "--balancer", "haproxy", "--strategy", "maglev", "--out", str(tmp_path))
    assert_one_line_error(done, "haproxy has no equivalent of maglev (it offers: round_robin")


LOCUST_REFUSALS = [
    # (flags, the one line)
    (["--balancer", "envoy", "--via-gateway"], "--via-gateway: the users call envoy over gRPC"),
    (["--balancer", "grpc", "--strategy", "round_robin"], "grpcio's policies balance inside"),
    (["--balancer", "haproxy", "--strategy", "maglev"], "haproxy has no equivalent of maglev"),
]


@pytest.mark.parametrize(("flags", "said"), LOCUST_REFUSALS)
def test_locust_refuses_what_it_cannot_drive_in_one_line(flags, said):
    done = lbbench("locust", *flags, "--headless", "--run-time", "1s")
    assert_one_line_error(done, said)


MAP = """
name = "balancers-map"
[defaults]
load = { duration_s = 1 }
[defaults.fleet.synthetic]
backends = 4
capacity = 1
latency = { dist = "exponential", mean_ms = 10 }
[[scenario]]
name = "{balancer} {strategy} at {load.utilization}"
matrix.balancer = ["lbbench", "envoy"]
matrix.strategy = ["round_robin", "p2c"]
matrix."load.utilization" = [0.5, 0.9]
[map]
contenders = ["balancer", "strategy"]
rows = "load.utilization"
columns = []
"""


def test_the_balancer_is_a_contender_axis_of_a_winner_map():
    parsed = parse_suite(tomllib.loads(MAP), "map.toml")
    assert parsed.winner_map.contenders == ("balancer", "strategy")
    assert len(parsed.scenarios) == 8


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        ('balancer.haproxy.backend=["no-such-keyword 1"]',
         "balancer.haproxy: haproxy refused its config: [ALERT]"),
        ('balancer.haproxy.template="/no/such/file.cfg"',
         "balancer.haproxy.template: cannot read /no/such/file.cfg"),
    ],
)  # fmt: skip
def test_a_bad_raw_config_or_template_is_one_line_before_anything_starts(tmp_path, setting, line):
    binary_or_skip("haproxy")
    done = lbbench("run", "--balancer", "haproxy", "--set", setting, "--out", str(tmp_path))
    assert_one_line_error(done, line)
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize(
    ("proxy", "modes", "own"),
    [
        # what each proxy does by itself that the mapped settings do not say
        ("envoy", ("eject", "retry"), {"failover.eject.decay_interval_s": 0.1}),
        ("haproxy", ("eject", "retry"), {"failover.eject.timeouts_fail": False}),
        ("nginx", ("eject", "retry"), {}),
        ("envoy", ("retry",), {}),  # no ejection, nothing of its own
    ],
)
def test_a_proxys_scenario_is_simulated_with_what_the_proxy_does_by_itself(proxy, modes, own):
    from lbbench.core.config import RouterConfig
    from lbbench.core.settings import apply_settings, resolved
    from lbbench.proxies.vocabulary import simulated_settings

    config = apply_settings(RouterConfig(), {"failover.modes": modes})
    assert simulated_settings(proxy, resolved(config)) == own
