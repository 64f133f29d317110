"""Shared by the proxy tests: the binary or a skip saying how to install it, and a plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbbench.errors import ConfigError
from lbbench.proxies.binaries import find_binary
from lbbench.proxies.plan import ProxyPlan
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario

PROXIES = ("envoy", "haproxy", "nginx")


def binary_or_skip(proxy: str) -> str:
    try:
        return find_binary(proxy)
    except ConfigError as error:
        pytest.skip(str(error))


def scenario(proxy: str, strategy: str, modes: tuple[str, ...], **settings) -> Scenario:
    built = Scenario(
        name="t",
        profile=load_profile("heterogeneous"),
        strategy=strategy,
        failover=modes,
        balancer=proxy,
        settings=tuple(settings.items()),
    )
    built.validate()
    return built


def plan_of(built: Scenario, run_dir: Path) -> ProxyPlan:
    ports = {t.id: 20_000 + i for i, t in enumerate(built.profile.targets)}
    return ProxyPlan.of(built, ports, 19_999, 19_998, run_dir)
