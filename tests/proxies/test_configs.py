"""Every mapped strategy and failover mode of each proxy, generated from lbbench's words and
checked by the proxy itself (``envoy --mode validate``, ``haproxy -c``, ``nginx -t``);
what a proxy has no equivalent for is refused in one line naming what it offers."""

from __future__ import annotations

import pytest

from lbbench.errors import ConfigError
from lbbench.proxies.process import GENERATORS, check
from lbbench.proxies.vocabulary import NGINX_NO_BACKUP, VOCABULARY
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario
from tests.proxies.helpers import PROXIES, binary_or_skip, plan_of, scenario

# the settings a mode cannot go without on some proxy
NEEDS = {
    "hedge": {"failover.hedge.delay_s": 0.02},
    "admission": {"failover.admission.max_limit": 40},
}
MODE_SETS = [("fail_fast",), ("retry",), ("eject",), ("eject", "retry"), ("hedge",),
             ("primary_backup",), ("eject", "retry", "primary_backup"), ("admission",),
             ("admission", "eject", "retry")]  # fmt: skip


def needed(modes):
    return {path: value for mode in modes for path, value in NEEDS.get(mode, {}).items()}


def cases():
    for proxy in PROXIES:
        words = VOCABULARY[proxy]
        for strategy in words.strategies:
            for modes in MODE_SETS:
                if not all(mode in words.modes for mode in modes):
                    continue
                if proxy == "nginx" and "primary_backup" in modes and strategy in NGINX_NO_BACKUP:
                    continue
                yield pytest.param(
                    proxy, strategy, modes, id=f"{proxy}-{strategy}-{'+'.join(modes)}"
                )


@pytest.mark.parametrize(("proxy", "strategy", "modes"), list(cases()))
def test_each_mapped_strategy_and_mode_makes_a_config_the_proxy_accepts(
    proxy, strategy, modes, tmp_path
):
    binary = binary_or_skip(proxy)
    built = scenario(proxy, strategy, modes, **needed(modes))
    plan = plan_of(built, tmp_path)
    generator = GENERATORS[proxy]
    path = tmp_path / f"{proxy}.conf"
    path.write_text(generator.config(plan))
    check(proxy, generator.check_command(binary, str(path), str(tmp_path)))


# what a scenario says, and the one line that refuses it
REFUSED = [
    ("haproxy has no maglev", "haproxy", "maglev", ("fail_fast",), {},
     "strategy: haproxy has no equivalent of maglev (it offers: round_robin,"),
    ("nginx has no hedging", "nginx", "round_robin", ("hedge",), {},
     "failover: nginx has no equivalent of hedge (it offers: fail_fast, retry, eject,"),
    ("envoy has no window for its retry budget", "envoy", "round_robin", ("retry",),
     {"failover.retry.budget_window_s": 5.0},
     "failover.retry.budget_window_s: envoy has no equivalent of failover.retry.budget_window_s"),
    ("nginx has no backups with random", "nginx", "random", ("primary_backup",), {},
     "failover: nginx has no backup servers with random"),
    ("envoy hedges at a fixed delay", "envoy", "round_robin", ("hedge",), {},
     "failover.hedge.delay_s: envoy hedges after a fixed delay"),
    ("haproxy has no circuit breaker of lbbench's kind", "haproxy", "round_robin",
     ("circuit_breaker",), {}, "failover: haproxy has no equivalent of circuit_breaker"),
    ("haproxy's limit does not adapt", "haproxy", "round_robin", ("admission",), {},
     "failover.admission.max_limit: haproxy's limit on calls in flight is fixed: give"),
    ("nginx's limit does not adapt", "nginx", "least_connections", ("admission",), {},
     "failover.admission.max_limit: nginx's limit on calls in flight is fixed: give"),
    ("envoy's gradient has no AIMD backoff", "envoy", "round_robin", ("admission",),
     {"failover.admission.backoff": 0.5},
     "failover.admission.backoff: envoy has no equivalent of failover.admission.backoff"),
]  # fmt: skip

# admission's fleet-wide limit of 40 over the 4 targets of the profile, as each proxy says it
LIMITS = [
    ("envoy", '"max_concurrency_limit": 40'),
    ("haproxy", " maxconn 10"),
    ("nginx", " max_conns=10"),
]


@pytest.mark.parametrize(("proxy", "said"), LIMITS)
def test_admissions_limit_is_the_fleets_shared_over_the_servers(proxy, said, tmp_path):
    built = scenario(proxy, "round_robin", ("admission",), **NEEDS["admission"])
    text = GENERATORS[proxy].config(plan_of(built, tmp_path))
    assert text.count(said) == (1 if proxy == "envoy" else 4), text


@pytest.mark.parametrize(
    ("what", "proxy", "strategy", "modes", "settings", "line"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_what_a_proxy_has_no_equivalent_for_is_refused_in_one_line(
    what, proxy, strategy, modes, settings, line
):
    with pytest.raises(ConfigError) as refused:
        scenario(proxy, strategy, modes, **settings)
    assert str(refused.value).startswith(line), what
    assert "\n" not in str(refused.value)


def test_a_bad_raw_section_is_refused_by_the_proxy_in_one_line(tmp_path):
    binary = binary_or_skip("haproxy")
    built = scenario("haproxy", "round_robin", ("fail_fast",))
    from dataclasses import replace

    built = replace(built, balancer_options=(("haproxy.backend", ["no-such-keyword 1"]),))
    built.validate()
    plan = plan_of(built, tmp_path)
    path = tmp_path / "haproxy.conf"
    path.write_text(GENERATORS["haproxy"].config(plan))
    with pytest.raises(ConfigError) as refused:
        check("haproxy", GENERATORS["haproxy"].check_command(binary, str(path), str(tmp_path)))
    message = str(refused.value)
    assert (
        message.startswith("balancer.haproxy: haproxy refused its config:") and "\n" not in message
    )
    assert "no-such-keyword" in message


TEMPLATE = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend mine
    bind 127.0.0.1:${listen_port} proto h2
    default_backend mine
backend mine
    balance leastconn
    server a 127.0.0.1:${port_0} proto h2
    server b 127.0.0.1:${port_1} proto h2
"""


def test_a_users_own_config_is_filled_in_and_checked(tmp_path):
    from dataclasses import replace

    from lbbench.proxies.process import check_config

    binary = binary_or_skip("haproxy")
    template = tmp_path / "mine.cfg"
    template.write_text(TEMPLATE)
    built = replace(
        scenario("haproxy", "round_robin", ("fail_fast",)),
        balancer_options=(("haproxy.template", str(template)),),
    )
    path = check_config(plan_of(built, tmp_path), binary)
    text = path.read_text()
    assert "bind 127.0.0.1:19999 proto h2" in text and "server b 127.0.0.1:20001" in text


# p2c's choice_count as each proxy says it (NGINX's random draws two, no more)
CHOICES = [
    ("envoy", 3, '"choice_count": 3'),
    ("haproxy", 3, "balance random(3)"),
    ("nginx", 2, "random two least_conn;"),
]


@pytest.mark.parametrize(("proxy", "count", "said"), CHOICES)
def test_p2c_choice_count_is_the_proxys_own(proxy, count, said, tmp_path):
    built = Scenario(
        name="t",
        profile=load_profile("heterogeneous"),
        strategy="p2c",
        strategy_options=(("choice_count", count),),
        balancer=proxy,
    )
    built.validate()
    plan = plan_of(built, tmp_path)
    text = GENERATORS[proxy].config(plan)
    assert said in text, text
    binary = binary_or_skip(proxy)
    path = tmp_path / f"{proxy}.conf"
    path.write_text(text)
    check(proxy, GENERATORS[proxy].check_command(binary, str(path), str(tmp_path)))


def test_nginx_refuses_more_than_two_choices_in_one_line():
    built = Scenario(
        name="t",
        profile=load_profile("heterogeneous"),
        strategy="p2c",
        strategy_options=(("choice_count", 3),),
        balancer="nginx",
    )
    with pytest.raises(ConfigError) as refused:
        built.validate()
    assert str(refused.value).startswith(
        "strategy_options.choice_count: nginx's random two least_conn draws two (got 3)"
    )
