"""Every router setting by one dotted path: set, checked, resolved, recorded."""

from __future__ import annotations

import json

import pytest

from lbbench.core.config import RouterConfig
from lbbench.core.settings import apply_settings, every_setting, resolved
from lbbench.errors import ConfigError
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario

SET = [
    # path, value, how to read it back from the config
    ("strategy", "p2c", lambda c: c.strategy),
    ("deadline_s", 0.5, lambda c: c.deadline_s),
    ("max_pending", 100, lambda c: c.max_pending),
    ("panic_threshold", 0, lambda c: c.panic_threshold),
    ("failover.modes", ["eject", "retry"], lambda c: list(c.failover.modes)),
    ("failover.modes", "eject,retry", lambda c: list(c.failover.modes)),
    ("failover.retry.budget_ratio", 0.2, lambda c: c.failover.of("retry").budget_ratio),
    (
        "failover.eject.consecutive_failures",
        3,
        lambda c: c.failover.of("eject").consecutive_failures,
    ),
    ("failover.hedge.delay_s", 0.01, lambda c: c.failover.of("hedge").delay_s),
    ("failover.circuit_breaker.open_s", 2, lambda c: c.failover.of("circuit_breaker").open_s),
    (
        "failover.primary_backup.overprovisioning",
        2.0,
        lambda c: c.failover.of("primary_backup").overprovisioning,
    ),
]


@pytest.mark.parametrize(("path", "value", "read"), SET)
def test_a_setting_set_by_its_path_is_what_the_config_holds(path, value, read):
    config = apply_settings(RouterConfig(), {path: value})
    expected = ["eject", "retry"] if path == "failover.modes" else value
    assert read(config) == expected


BAD = [
    # settings, where the error points, what it says
    ({"failover.retry.budget_ratio": -1}, "failover.retry.budget_ratio", ">= 0.0"),
    ({"failover.retry.budget_ratio": "lots"}, "failover.retry.budget_ratio", "a number"),
    ({"failover.retry.tries": 3}, "failover.retry.tries", "no setting 'tries'"),
    ({"failover.teleport.x": 1}, "failover.teleport", "unknown failover mode"),
    ({"failover.modes": ["fail_fast", "retry"]}, "failover", "cannot be combined"),
    ({"deadline_s": 0}, "deadline_s", "> 0.0"),
    ({"max_pending": 1.5}, "max_pending", "an integer"),
    ({"strategy": "teleport"}, "strategy", "unknown strategy"),
    ({"strategy_options.decay_s": 1}, "strategy_options.decay_s", "no option"),
    ({"turbo": True}, "turbo", "unknown setting"),
]


@pytest.mark.parametrize(("settings", "where", "words"), BAD)
def test_a_bad_setting_names_its_path(settings, where, words):
    with pytest.raises(ConfigError) as caught:
        apply_settings(RouterConfig(), settings)
    assert caught.value.where == where
    assert words in caught.value.message


def test_read_from_a_file_the_error_names_the_file_and_table():
    with pytest.raises(ConfigError) as caught:
        apply_settings(RouterConfig(), {"failover.retry.budget_ratio": -1}, "x.toml: defaults")
    assert caught.value.where == "x.toml: defaults.failover.retry.budget_ratio"


def test_a_new_strategy_takes_its_options_and_resolves_the_rest_to_defaults():
    config = apply_settings(
        RouterConfig(), {"strategy": "peak_ewma", "strategy_options.decay_s": 2.0}
    )
    paths = resolved(config)
    assert paths["strategy_options.decay_s"] == 2.0
    assert paths["failover.modes"] == ["fail_fast"]
    assert not any(p.startswith("failover.retry") for p in paths)  # not in force
    assert every_setting()["failover.retry.budget_ratio"] == 0.5


def test_a_scenario_carries_its_settings_into_its_key_and_its_router():
    plain = Scenario("s", load_profile("uniform"), "p2c", ("eject", "retry"))
    tuned = Scenario(
        "s", load_profile("uniform"), "p2c", ("eject", "retry"),
        settings=(("failover.retry.budget_ratio", 0.2),),
    )  # fmt: skip
    assert tuned.key == plain.key + "/failover.retry.budget_ratio=0.2"
    assert tuned.router_config().failover.of("retry").budget_ratio == 0.2
    assert tuned.resolved_settings()["failover.retry.budget_ratio"] == 0.2


def shipped_scenarios() -> list[Scenario]:
    from lbbench.scenario.suites import load_suite, shipped_suites

    return [
        scenario
        for name in sorted(shipped_suites())
        for scenario in load_suite(name).scenarios
        if not scenario.strategy.startswith("grpc:")
    ]


def test_the_resolved_settings_rebuild_every_shipped_scenarios_router_exactly():
    """The live rig hands its balancer a scenario's resolved settings (one JSON object) and
    the balancer builds its router from them alone: for every scenario of every shipped
    suite that is the router the simulator builds from the scenario itself."""
    from lbbench.core.settings import config_from_settings

    scenarios = shipped_scenarios()
    assert len(scenarios) > 100
    for scenario in scenarios:
        config = scenario.router_config()
        rebuilt = config_from_settings(json.loads(json.dumps(scenario.resolved_settings())))
        assert resolved(rebuilt) == resolved(config), scenario.name
        assert rebuilt.failover.modes == config.failover.modes
        for mode in config.failover.modes:
            assert rebuilt.failover.of(mode) == config.failover.of(mode), (scenario.name, mode)


SPLIT = [
    # settings by path, then: the scenario's own fields, its strategy options, the rest
    ({"strategy": "p2c"}, {"strategy": "p2c"}, {}, {}),
    ({"failover.modes": "eject+retry"}, {"failover": ("eject", "retry")}, {}, {}),
    ({"failover.modes": ["eject"]}, {"failover": ("eject",)}, {}, {}),
    ({"deadline_s": 2}, {"deadline_s": 2.0}, {}, {}),
    ({"strategy_options.decay_s": 5}, {}, {"decay_s": 5}, {}),
    ({"failover.retry.budget_ratio": 0.2}, {}, {}, {"failover.retry.budget_ratio": 0.2}),
    ({"max_pending": 8}, {}, {}, {"max_pending": 8}),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "fields", "options", "rest"), SPLIT)
def test_one_function_makes_a_path_a_scenario_field(settings, fields, options, rest):
    from lbbench.core.settings import scenario_fields

    assert scenario_fields(settings) == (fields, options, rest)
