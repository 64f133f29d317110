"""Named suites of scenarios; ``default`` is what ``lbbench run`` runs with no options."""

from __future__ import annotations

from collections.abc import Callable

from lbbench.errors import ConfigError
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario

DEFAULT_STRATEGIES = (
    "round_robin",
    "weighted_round_robin",
    "least_connections",
    "p2c",
    "peak_ewma",
)
DEFAULT_FAILOVERS = (("fail_fast",), ("retry",), ("eject", "retry"))


def default_suite(seed: int = 1, trials: int = 1) -> list[Scenario]:
    """Strategies on a heterogeneous fleet, then failover modes under a crash.

    Part 1: four targets (weights 3,1,1,1; t3 about four times slower) at
    600 requests/s, Poisson, 6 s, under five strategies. Part 2: the same
    fleet at 600 requests/s for 8 s while t1 crashes at 2 s (the process is
    killed) and is restarted 3 s later, under fail_fast, retry and
    eject+retry with smooth weighted round robin.
    """
    fleet = load_profile("heterogeneous")
    crash = load_profile("crash-recover")
    strategies = [
        Scenario(
            name=f"{strategy} on {fleet.name}",
            profile=fleet,
            strategy=strategy,
            load=LoadSpec(rate=600, duration_s=6.0),
            seed=seed,
            trials=trials,
        )
        for strategy in DEFAULT_STRATEGIES
    ]
    failovers = [
        Scenario(
            name=f"{'+'.join(modes)} under {crash.name}",
            profile=crash,
            strategy="weighted_round_robin",
            failover=modes,
            load=LoadSpec(rate=600, duration_s=8.0),
            seed=seed,
            trials=trials,
        )
        for modes in DEFAULT_FAILOVERS
    ]
    return strategies + failovers


def smoke_suite(seed: int = 1, trials: int = 1) -> list[Scenario]:
    """One short scenario: the rig end to end, and what CI gates on.

    Its latency is set by the targets' service time (mean 10 ms) rather than
    by the rig's own overhead, so a 2x slower service shows as about 2x.
    """
    return [
        Scenario(
            name="p2c on smoke",
            profile=load_profile("smoke"),
            strategy="p2c",
            load=LoadSpec(rate=300, duration_s=2.0),
            seed=seed,
            trials=trials,
        )
    ]


GRPC_WAYS = (
    ("grpc:round_robin", ("fail_fast",)),
    ("grpc:round_robin", ("eject",)),
    ("grpc:round_robin", ("eject", "retry")),
    ("grpc:pick_first", ("fail_fast",)),
    ("weighted_round_robin", ("eject", "retry")),
    ("p2c", ("eject", "retry")),
)


def grpc_suite(seed: int = 1, trials: int = 1) -> list[Scenario]:
    """grpcio's client-side policies beside lbbench's balancer, under the same crash.

    The crash-recover fleet (t1 killed at 2 s, restarted 3 s later) at 600
    requests/s for 8 s: grpcio's round_robin plain, with outlier detection,
    with outlier detection and its retry policy, and pick_first, served by
    gRPC targets; then lbbench's balancer with eject+retry under smooth
    WRR and p2c, served by ZeroMQ targets. Same generator, same schedule.
    """
    crash = load_profile("crash-recover")
    return [
        Scenario(
            name=f"{strategy} {'+'.join(modes)} under {crash.name}",
            profile=crash,
            strategy=strategy,
            failover=modes,
            load=LoadSpec(rate=600, duration_s=8.0),
            seed=seed,
            trials=trials,
        )
        for strategy, modes in GRPC_WAYS
    ]


SUITES: dict[str, Callable[..., list[Scenario]]] = {
    "default": default_suite,
    "smoke": smoke_suite,
    "grpc": grpc_suite,
}


def suite(name: str, seed: int, trials: int) -> list[Scenario]:
    try:
        build = SUITES[name]
    except KeyError:
        known = ", ".join(SUITES)
        raise ConfigError("--suite", f"unknown suite {name!r} (known: {known})") from None
    return build(seed=seed, trials=trials)
