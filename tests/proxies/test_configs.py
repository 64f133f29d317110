"""Every mapped strategy and failover mode of each proxy, generated from lbbench's words and
checked by the proxy itself (``envoy --mode validate``, ``haproxy -c``, ``nginx -t``);
what a proxy has no equivalent for is refused in one line naming what it offers."""

from __future__ import annotations

import pytest

from lbbench.errors import ConfigError
from lbbench.proxies.process import GENERATORS, check
from lbbench.proxies.vocabulary import NGINX_NO_BACKUP, VOCABULARY
from tests.proxies.helpers import PROXIES, binary_or_skip, plan_of, scenario

HEDGE = {"failover.hedge.delay_s": 0.02}
MODE_SETS = [("fail_fast",), ("retry",), ("eject",), ("eject", "retry"), ("hedge",),
             ("primary_backup",), ("eject", "retry", "primary_backup")]  # fmt: skip


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
    built = scenario(proxy, strategy, modes, **(HEDGE if "hedge" in modes else {}))
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
]  # fmt: skip


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
