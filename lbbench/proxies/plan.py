"""What a proxy's config is generated from: the scenario's routing in lbbench's words, the
targets' loopback ports, and the ports and folder the proxy gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbbench.core.strategies import STRATEGIES
from lbbench.errors import ConfigError

# The proxy's own timeout is this much longer than the client's deadline, so that a call
# too slow is ended by the client for every balancer alike (a timeout, not a 504).
TIMEOUT_MARGIN_S = 0.1


@dataclass(frozen=True)
class Upstream:
    id: str
    port: int
    weight: int
    tier: int


@dataclass(frozen=True)
class ProxyPlan:
    proxy: str
    strategy: str
    modes: tuple[str, ...]
    #: the strategy's options (p2c's choice_count is the one a proxy maps)
    options: dict[str, Any]
    #: every router setting by path, resolved (lbbench's defaults where not given)
    settings: dict[str, Any]
    #: the settings the scenario gave (only these may need a knob the proxy lacks)
    given: frozenset[str]
    deadline_s: float
    upstreams: tuple[Upstream, ...]
    listen_port: int
    admin_port: int
    run_dir: Path
    #: balancer.<proxy>.<key> for this proxy (raw config, template), without ``bin``
    raw: dict[str, Any]

    @classmethod
    def of(
        cls,
        scenario: Any,
        ports: dict[str, int],
        listen_port: int,
        admin_port: int,
        run_dir: Path,
    ) -> ProxyPlan:
        proxy = scenario.proxy
        weighted = STRATEGIES[scenario.strategy].weighted
        prefix = f"{proxy}."
        return cls(
            proxy=proxy,
            strategy=scenario.strategy,
            modes=tuple(scenario.failover),
            options=dict(scenario.strategy_options),
            settings=scenario.resolved_settings(),
            given=frozenset(path for path, _ in scenario.settings),
            deadline_s=scenario.deadline_s,
            upstreams=tuple(
                Upstream(t.id, ports[t.id], t.weight if weighted else 1, t.tier)
                for t in scenario.profile.targets
            ),
            listen_port=listen_port,
            admin_port=admin_port,
            run_dir=run_dir,
            raw={
                path[len(prefix) :]: value
                for path, value in scenario.balancer_options
                if path.startswith(prefix) and path != prefix + "bin"
            },
        )

    def setting(self, path: str) -> Any:
        return self.settings[path]

    @property
    def timeout_s(self) -> float:
        return self.deadline_s + TIMEOUT_MARGIN_S

    @property
    def per_server_limit(self) -> int:
        """A fixed limit on calls in flight for the fleet (admission's ``max_limit``), as
        HAProxy and NGINX set it: on each server, its share rounded up."""
        return -(-int(self.setting("failover.admission.max_limit")) // len(self.upstreams))

    @property
    def tiers(self) -> list[int]:
        return sorted({u.tier for u in self.upstreams})


def raw_lines(raw: object, where: str) -> list[str]:
    """A user's own lines for a section: a string or a list of strings, one line each."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(line, str) for line in raw):
        raise ConfigError(where, f"must be a line or a list of lines, got {raw!r}")
    if any("\n" in line for line in raw):
        raise ConfigError(where, "one line per list item")
    return [f"    {line}" for line in raw]
