"""A scenario: one fleet, one strategy and failover, one load, a seed and a number of trials.

The unit every rig runs (the live ZeroMQ rig, the gRPC rig, the
simulator) and every result set records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lbbench.core.config import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MODES,
    FailoverConfig,
    RouterConfig,
)
from lbbench.core.settings import apply_settings, resolved, scenario_fields
from lbbench.core.strategies import STRATEGIES
from lbbench.errors import ConfigError
from lbbench.scenario.balancers import check_balancers, split_weights
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile

#: Strategies named ``grpc:<policy>`` are grpcio's own, run by the gRPC rig
#: (which checks them); every other name is an lbbench strategy.
GRPC_PREFIX = "grpc:"
#: What balances a scenario's calls: lbbench's ZeroMQ balancer, grpcio's client-side
#: policies, or a real proxy (``lbbench.proxies``) configured from lbbench's vocabulary.
BALANCERS = ("lbbench", "grpc", "envoy", "haproxy", "nginx")
PROXIES = ("envoy", "haproxy", "nginx")


def is_grpc(strategy: str) -> bool:
    return strategy.startswith(GRPC_PREFIX)


def check_balancer(name: str, where: str = "--balancer") -> str:
    if name not in BALANCERS:
        raise ConfigError(where, f"unknown balancer {name!r} (known: {', '.join(BALANCERS)})")
    return name


@dataclass(frozen=True)
class Scenario:
    """A fleet profile, a strategy, a failover mode, a load, a seed and a number of trials."""

    name: str
    profile: FleetProfile
    strategy: str
    failover: tuple[str, ...] = DEFAULT_MODES
    load: LoadSpec = field(default_factory=LoadSpec)
    strategy_options: tuple[tuple[str, Any], ...] = ()
    seed: int = 1
    trials: int = 1
    deadline_s: float = DEFAULT_DEADLINE_S
    #: further router settings by dotted path (``lbbench.core.settings``)
    settings: tuple[tuple[str, Any], ...] = ()
    #: the suite's ``[[scenario]]`` this one comes from, and its matrix cell (key, value label)
    group: str = ""
    cell: tuple[tuple[str, str], ...] = ()
    #: what balances the calls (BALANCERS); a ``grpc:`` strategy means ``grpc``
    balancer: str = "lbbench"
    #: a proxy's own settings by path under ``balancer.<proxy>.`` (its binary, raw
    #: config merged into the generated one): ``lbbench.proxies``
    balancer_options: tuple[tuple[str, Any], ...] = ()
    #: how many balancers share the fleet, each routing its own share of the requests
    #: (``lbbench.scenario.balancers``); 1 is one balancer that sees every request
    balancers: int = 1
    balancers_split: str = "even"

    def __post_init__(self) -> None:
        # one scenario, one spelling: balancer = "grpc" with strategy = "round_robin" is
        # strategy = "grpc:round_robin" (the name results and keys have always used)
        if is_grpc(self.strategy) and self.balancer == "lbbench":
            object.__setattr__(self, "balancer", "grpc")
        elif self.balancer == "grpc" and not is_grpc(self.strategy):
            object.__setattr__(self, "strategy", GRPC_PREFIX + self.strategy)

    @property
    def proxy(self) -> str | None:
        """The real proxy balancing this scenario's calls, if one does."""
        return self.balancer if self.balancer in PROXIES else None

    def validate(self) -> None:
        """Raise ConfigError on bad routing input, before anything starts.

        A ``grpc:`` scenario's routing is grpcio's: the gRPC rig checks it. A
        proxy's is lbbench's vocabulary, which must map onto that proxy.
        """
        check_balancer(self.balancer, "balancer")
        check_balancers(self.balancers)
        split_weights(self.balancers, self.balancers_split)
        if self.balancers > 1 and self.balancer != "lbbench":
            raise ConfigError(
                "balancers",
                f"{self.balancers} balancers of {self.balancer}: many balancers are lbbench's "
                'routers (balancer = "lbbench")',
            )
        if is_grpc(self.strategy):
            if self.balancer != "grpc":
                raise ConfigError("balancer", f'{self.strategy} is grpcio\'s: balancer = "grpc"')
            return
        self.router_config()
        choices = dict(self.strategy_options).get("choice_count")
        if choices is not None and choices > len(self.profile.targets):
            raise ConfigError(
                "strategy_options.choice_count",
                f"{choices} choices from a fleet of {len(self.profile.targets)}: at most "
                f"{len(self.profile.targets)}",
            )
        if self.proxy:
            from lbbench.proxies.vocabulary import check_routing

            check_routing(
                self.proxy,
                self.strategy,
                self.failover,
                dict(self.strategy_options),
                dict(self.settings),
                dict(self.balancer_options),
            )

    def router_config(self) -> RouterConfig:
        """Validates the routing part (raises ConfigError on bad input)."""
        config = RouterConfig(
            strategy=self.strategy,
            strategy_options=dict(self.strategy_options),
            failover=FailoverConfig(modes=self.failover),
            deadline_s=self.deadline_s,
        )
        return apply_settings(config, dict(self.settings)) if self.settings else config

    @property
    def key(self) -> str:
        """What identifies the scenario across result sets (for compare)."""
        load = self.load
        options = ",".join(f"{k}={v}" for k, v in self.strategy_options)
        strategy = f"{self.strategy}({options})" if options else self.strategy
        if self.proxy:
            strategy = f"{self.proxy}:{strategy}"
        key = (
            f"{self.profile.name}/{strategy}/{'+'.join(self.failover)}/"
            f"{load.mode}-{load.arrival}-{load.shape}-{load.rate:g}rps-{load.duration_s:g}s"
        )
        key += "".join(f",{part}" for part in load.key_parts())
        if self.settings:
            key += "/" + ",".join(f"{path}={value}" for path, value in self.settings)
        if self.balancers > 1:  # (one balancer's keys are as they always were)
            key += f"/balancers={self.balancers}"
            if self.balancers_split != "even":
                key += f",split={self.balancers_split}"
        shaping = [(p, v) for p, v in self.balancer_options if not p.endswith(".bin")]
        if shaping:  # raw config changes what is measured; where the binary is does not
            key += "/" + ",".join(f"balancer.{path}={value}" for path, value in shaping)
        return key

    def with_settings(self, settings: Mapping[str, Any]) -> Scenario:
        """This scenario with router settings changed by path (``--set`` on a whole suite).

        ``strategy``, ``strategy_options.*``, ``failover.modes`` and
        ``deadline_s`` change those fields; any other path joins ``settings``.
        A ``grpc:`` scenario takes only ``deadline_s`` (grpcio configures the rest).
        """
        fields, options, rest = scenario_fields(settings)
        if is_grpc(fields.get("strategy", self.strategy)):
            rest = {}  # grpcio's policies have their own configuration (lbbench.rpc)
        balancer_options = fields.pop("balancer_options", {})
        changed = replace(
            self,
            **fields,
            balancer_options=tuple(
                sorted({**dict(self.balancer_options), **balancer_options}.items())
            ),
            strategy_options=tuple(sorted({**dict(self.strategy_options), **options}.items())),
            settings=tuple(sorted({**dict(self.settings), **rest}.items())),
        )
        changed.validate()
        return changed

    def resolved_settings(self) -> dict[str, Any]:
        """Every router setting of this scenario by path (empty for grpcio's policies)."""
        return {} if is_grpc(self.strategy) else resolved(self.router_config())

    def expected_shares(self) -> dict[str, float]:
        # grpcio's policies know nothing of lbbench weights: even shares
        weighted = not is_grpc(self.strategy) and STRATEGIES[self.strategy].weighted
        return self.profile.expected_shares(weighted)
