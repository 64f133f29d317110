"""Each balancer's highest sustained rate on this machine, through the same generator.

The same open-loop gRPC generator (``lbbench.rpc.loadgen``, one process, the
rig's own) offers a ladder of rates, 2 s each, to two gRPC targets that
answer at once, through:

- ``grpc direct``: grpcio's round_robin over the two targets (no hop: the
  ceiling of the generator and the targets themselves);
- ``lbbench via gateway``: ``lbbench gateway`` (gRPC in, ZeroMQ out) and
  lbbench's balancer (p2c) in front of two ZeroMQ targets;
- ``lbbench zeromq``: the ZeroMQ generator straight into lbbench's balancer
  (its own client path, for reference: not the same generator);
- ``envoy``, ``haproxy``, ``nginx``: the proxy (p2c) in front of the two gRPC targets.

A rate is sustained when the generator kept its schedule (the run is valid:
no lag, nothing lost), every call came back ok, and the p99 stayed under
50 ms. The ladder stops at the first rate not sustained. The figure that
means something on a shared 2-core machine is each balancer's ceiling as a
ratio of ``grpc direct``'s, measured side by side in one run (the rounds
alternate the balancers).

Measure with: pytest tests/bench/test_balancer_ceilings.py --benchmark-enable -s
(about 5 minutes); without --benchmark-enable it tries two of the paths once at a low
rate. Marked slow (CI's slow stage runs that short form): it starts Envoy and gRPC fleets
from the test process itself.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lbbench.errors import ConfigError
from lbbench.proxies.binaries import find_binary
from lbbench.rigs.live import LiveProcesses
from lbbench.rigs.loadgen import LoadRun
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import parse_profile
from lbbench.scenario.scenario import Scenario

pytestmark = pytest.mark.slow

TWO_INSTANT = """
name = "two-instant"
description = "two targets that answer at once"
[defaults]
capacity = 1000
latency = { dist = "fixed", ms = 0.0 }
[[target]]
id = "t0"
[[target]]
id = "t1"
"""
LADDER = (250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000)
STEP_S = 2.0
MAX_P99_MS = 50.0
DEADLINE_S = 1.0
SMOKE = ("grpc direct", "envoy")


def scenario(balancer: str, rate: float) -> Scenario:
    built = Scenario(
        name=f"ceiling {balancer}",
        profile=parse_profile(tomllib.loads(TWO_INSTANT), "bench"),
        strategy="p2c",
        failover=("fail_fast",),
        balancer=balancer,
        deadline_s=DEADLINE_S,
        load=LoadSpec(rate=rate, duration_s=STEP_S, drain_s=1.0),
    )
    built.validate()
    return built


def grpc_job(addresses: list[str], strategy: str) -> dict[str, Any]:
    return {
        "addresses": addresses,
        "strategy": strategy,
        "modes": ["fail_fast"],
        "deadline_s": DEADLINE_S,
    }


@contextlib.contextmanager
def grpc_direct(rate: float) -> Iterator[Callable[[LoadSpec], LoadRun]]:
    from lbbench.rpc.rig import GrpcProcesses

    with GrpcProcesses(scenario("lbbench", rate), 1) as fleet:
        yield lambda spec: LoadRun(spec, "", 1, grpc=grpc_job(fleet.addresses, "grpc:round_robin"))


@contextlib.contextmanager
def lbbench_gateway(rate: float) -> Iterator[Callable[[LoadSpec], LoadRun]]:
    with LiveProcesses(scenario("lbbench", rate), 1) as rig:
        rig.wait_ready()
        gateway = rig.start_gateway()
        yield lambda spec: LoadRun(spec, "", 1, grpc=grpc_job([gateway], "grpc:pick_first"))


@contextlib.contextmanager
def lbbench_zeromq(rate: float) -> Iterator[Callable[[LoadSpec], LoadRun]]:
    with LiveProcesses(scenario("lbbench", rate), 1) as rig:
        rig.wait_ready()
        yield lambda spec: LoadRun(spec, rig.frontend, 1)


def proxy(name: str):
    @contextlib.contextmanager
    def through(rate: float) -> Iterator[Callable[[LoadSpec], LoadRun]]:
        from lbbench.proxies.rig import ProxyFleet

        with ProxyFleet(scenario(name, rate), 1) as fleet:
            yield lambda spec: LoadRun(
                spec, "", 1, grpc=grpc_job([fleet.address], "grpc:pick_first")
            )

    return through


PATHS = {
    "grpc direct": grpc_direct,
    "lbbench via gateway": lbbench_gateway,
    "lbbench zeromq": lbbench_zeromq,
    "envoy": proxy("envoy"),
    "haproxy": proxy("haproxy"),
    "nginx": proxy("nginx"),
}


def available() -> dict[str, Any]:
    out = {}
    for name, path in PATHS.items():
        if name in ("envoy", "haproxy", "nginx"):
            try:
                find_binary(name)
            except ConfigError:
                continue
        out[name] = path
    return out


def sustained(generator: Callable[[LoadSpec], LoadRun], rate: float) -> tuple[bool, str]:
    """One step of the ladder: whether ``rate`` was sustained, and what was seen."""
    spec = LoadSpec(rate=rate, duration_s=STEP_S, drain_s=1.0)
    report = generator(spec).wait(STEP_S + 30.0)
    recorder = report.recorder
    ok = recorder.outcomes.get("ok", 0)
    p99_ms = recorder.corrected.get_value_at_percentile(99) / 1e3 if recorder.sent else 0.0
    seen = (
        f"{rate:g}/s: achieved {report.achieved_rate:.0f}/s, ok {ok}/{recorder.sent}, "
        f"p99 {p99_ms:.1f} ms{'; ' + '; '.join(report.problems) if report.problems else ''}"
    )
    good = not report.problems and recorder.sent > 0 and ok == recorder.sent
    return good and p99_ms <= MAX_P99_MS, seen


def ceiling(path: Any, ladder: tuple[float, ...], warm_up: bool) -> tuple[float, list[str]]:
    """The highest rate of the ladder sustained (0: not even the first), one fleet for all."""
    best, seen = 0.0, []
    with path(ladder[0]) as generator:
        if warm_up:  # connections made, caches filled, before the ladder counts
            sustained(generator, ladder[0] / 2)
        for rate in ladder:
            good, said = sustained(generator, rate)
            seen.append(said)
            if not good:
                break
            best = rate
    return best, seen


def test_each_balancers_highest_sustained_rate(benchmark):
    paths = available()
    if not benchmark.enabled:  # the smoke run: the harness on two of the paths, one step
        paths = {k: v for k, v in paths.items() if k in SMOKE}
    ladder = LADDER if benchmark.enabled else LADDER[:1]
    rounds: list[dict[str, float]] = []
    notes: dict[str, list[str]] = {}

    def one_round():
        figures = {}
        order = list(paths) if len(rounds) % 2 == 0 else list(reversed(paths))
        for name in order:
            figures[name], notes[name] = ceiling(paths[name], ladder, benchmark.enabled)
        rounds.append(figures)

    benchmark.pedantic(one_round, rounds=2 if benchmark.enabled else 1, iterations=1)
    best = {name: max(r[name] for r in rounds) for name in paths}
    reference = best["grpc direct"]
    benchmark.extra_info.update(
        {
            "rounds": rounds,
            "best_per_s": best,
            "over_grpc_direct": {
                name: (best[name] / reference if reference else None) for name in paths
            },
        }
    )
    print(f"\nceilings: {benchmark.extra_info}")
    for name, said in notes.items():
        print(f"  {name}: " + " | ".join(said))
    if not benchmark.enabled:
        # the smoke run: every path carries the first step's calls, all answered ok
        assert all(r[name] == ladder[0] for r in rounds for name in paths), notes
    else:
        assert reference > 0, notes["grpc direct"]
