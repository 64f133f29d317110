"""Every router setting by one dotted path: set, checked, resolved, recorded."""

from __future__ import annotations

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
