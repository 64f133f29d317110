"""The simulator checked against queueing theory and balls-into-bins results.

Each check runs the real engine (router, strategies, service queues) on a
fleet for which the answer is known in closed form:

- M/M/1: Poisson arrivals, exponential service of mean S, one server of
  capacity 1: mean time in system S / (1 - rho), and the time in system is
  exponential with rate mu - lambda, so its p99 is ln(100) / (mu - lambda);
- M/M/c: one server of capacity c (a shared first-come-first-served line,
  which is what the service queue is): mean time in system from the
  Erlang C formula, S + C(c, a) / (c mu - lambda);
- balls into bins: n requests that never finish thrown at n backends; the
  most loaded holds about ln n / ln ln n under random and about
  ln ln n / ln 2 (plus a constant) under p2c (Azar, Broder, Karlin, Upfal);
- the supermarket model: n single servers (exponential service), Poisson
  arrivals at load lambda per server, each joining the shortest of d
  queues drawn at random (p2c with ``choice_count`` d): as n grows the mean
  time in system tends to T_d(lambda) = sum over i >= 1 of
  lambda^((d^i - d) / (d - 1)) service times (Mitzenmacher 1996;
  Vvedenskaya, Dobrushin and Karpelevich 1996). The fleet is finite (1 000
  servers), so the limit is approached from above by O(1/n);
- stale information (Mitzenmacher 2000, "How useful is old information?"):
  the same servers balanced on a bulletin board of their queue lengths
  updated every T service times (view "reports"): p2c with d choices
  against the mean time in system of the paper's periodic update model,
  solved numerically (``lbbench.sim.stale_theory``: its figures cannot be
  read precisely enough), and least loaded's herding, whose time grows with
  T far faster than d = 2's.

Network hops are zero here: theory has none.

How close is close enough follows from the sample, not from a fixed
percentage: the answered requests after a warm-up are cut into batches
(consecutive requests, so each batch is long against the queue's memory
and the batches are nearly independent), the statistic is taken per
batch, and theory must fall inside the 99 % Student-t interval of the
batch statistics around the estimate from all of them (the method of batch
means). A long run narrows the interval; a short one widens it instead of
failing a correct simulator, and a wrong one (a bias larger than the
noise) fails either way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lbbench.core.latency import Latency
from lbbench.scenario.fleets import synthetic_fleet
from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import FleetProfile, TargetSpec
from lbbench.scenario.scenario import Scenario
from lbbench.sim.engine import Simulation
from lbbench.sim.options import SimOptions

LEVEL = 0.99  # confidence of the batch-means intervals
BATCHES = 20
WARM_UP = 0.05  # share of the answered requests left out at the start (an empty queue)
THEORY = SimOptions(hop_s=0.0)


@dataclass(frozen=True)
class Check:
    """One validation: what theory says, what the simulator measured, and the verdict."""

    name: str
    expected: float
    measured: float
    unit: str
    rule: str
    passed: bool

    @property
    def error(self) -> float:
        return (self.measured - self.expected) / self.expected if self.expected else 0.0


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c (``offered`` = lambda / mu < servers)."""
    term = 1.0
    below = 1.0  # sum of a^k / k! for k < c
    for k in range(1, servers):
        term *= offered / k
        below += term
    top = term * offered / servers / (1.0 - offered / servers)
    return top / (below + top)


def _single_server(capacity: int, service_ms: float) -> FleetProfile:
    latency = Latency("exponential", (("mean_ms", service_ms),))
    return FleetProfile(
        f"mm{capacity}",
        f"one server, capacity {capacity}, exponential service",
        (TargetSpec("server", capacity=capacity, latency=latency),),
    )


def p99(values: Sequence[float]) -> float:
    """The 99th percentile (nearest rank, as the histograms report it)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def batch_means(
    values: Sequence[float], statistic: Callable[[Sequence[float]], float]
) -> tuple[float, float]:
    """(estimate from every value after the warm-up, half-width of its LEVEL interval)."""
    kept = values[int(len(values) * WARM_UP) :]
    size = len(kept) // BATCHES
    if size < 100:
        raise ValueError(f"{len(values)} values are too few for {BATCHES} batches")
    per_batch = [statistic(kept[i * size : (i + 1) * size]) for i in range(BATCHES)]
    from scipy import stats  # here: the CLI imports this module, and scipy takes 0.6 s

    spread = statistics.stdev(per_batch) / math.sqrt(BATCHES)
    quantile = float(stats.t.ppf(0.5 + LEVEL / 2, BATCHES - 1))
    return statistic(kept), quantile * spread


def _interval(name: str, expected: float, values: Sequence[float], statistic, unit: str) -> Check:
    """``statistic`` of ``values`` (seconds) against theory (``expected``, ms)."""
    estimate, half = batch_means(values, statistic)
    estimate, half = estimate * 1e3, half * 1e3
    return Check(
        name,
        expected,
        estimate,
        unit,
        f"in {estimate:.4g} ± {half:.2g} ({LEVEL:.0%}, {BATCHES} batch means)",
        abs(estimate - expected) <= half,
    )


def _queue_run(capacity: int, rho: float, requests: int, seed: int, service_ms: float = 1.0):
    rate = rho * capacity / (service_ms / 1e3)
    scenario = Scenario(
        name=f"M/M/{capacity} rho={rho:g}",
        profile=_single_server(capacity, service_ms),
        strategy="round_robin",
        load=LoadSpec(rate=rate, duration_s=requests / rate, drain_s=600.0),
        seed=seed,
        deadline_s=3600.0,  # theory has no deadline
    )
    return _latencies_of(scenario, seed), rate


def _latencies_of(scenario: Scenario, seed: int) -> Simulation:
    """``scenario`` simulated with no hops, every answered request's latency kept."""
    simulation = Simulation(scenario, seed, THEORY)
    simulation.kept_latencies = []
    simulation.run()
    return simulation


def mm1(rho: float, requests: int, seed: int = 1) -> list[Check]:
    service = 1e-3
    simulation, rate = _queue_run(1, rho, requests, seed)
    decay = 1.0 / service - rate  # the sojourn time is exponential with this rate
    latencies = simulation.kept_latencies or []
    return [
        _interval(
            f"M/M/1 rho={rho:g}: mean latency S/(1-rho)",
            service / (1 - rho) * 1e3,
            latencies,
            statistics.fmean,
            "ms",
        ),
        _interval(
            f"M/M/1 rho={rho:g}: p99 latency ln(100)/(mu-lambda)",
            math.log(100) / decay * 1e3,
            latencies,
            p99,
            "ms",
        ),
    ]


def mmc(servers: int, rho: float, requests: int, seed: int = 1) -> Check:
    service = 1e-3
    simulation, rate = _queue_run(servers, rho, requests, seed)
    waits = erlang_c(servers, rate * service)
    expected = service + waits / (servers / service - rate)
    return _interval(
        f"M/M/{servers} rho={rho:g}: mean latency, Erlang C (P(wait)={waits:.3f})",
        expected * 1e3,
        simulation.kept_latencies or [],
        statistics.fmean,
        "ms",
    )


def max_load(strategy: str, bins: int, seed: int) -> int:
    """Throw ``bins`` never-ending requests at ``bins`` backends; the fullest one's count."""
    forever = Latency("fixed", (("ms", 1e9),))
    profile = synthetic_fleet(bins, capacity=1, latency=forever)
    rate = bins * 1e3  # all thrown within a millisecond, constant spacing
    scenario = Scenario(
        name=f"{bins} balls into {bins} bins",
        profile=profile,
        strategy=strategy,
        load=LoadSpec(rate=rate, duration_s=(bins - 0.5) / rate, arrival="constant"),
        seed=seed,
        deadline_s=3600.0,
    )
    simulation = Simulation(scenario, seed, THEORY)
    simulation.run(until=1.0)
    assert simulation.recorder.sent == bins
    return max(b.in_flight for b in simulation.router.backends.values())


def balls_into_bins(bins: int, seeds: tuple[int, ...] = (1, 2, 3)) -> list[Check]:
    """random against p2c; the largest maximum over ``seeds`` is reported."""
    lnn = math.log(bins)
    random_theory = lnn / math.log(lnn)
    p2c_theory = math.log(lnn) / math.log(2)
    random_max = max(max_load("random", bins, seed) for seed in seeds)
    p2c_max = max(max_load("p2c", bins, seed) for seed in seeds)
    return [
        Check(
            f"balls into bins n={bins}: random max load ~ ln n/ln ln n",
            random_theory,
            random_max,
            "requests",
            ">= ln n/ln ln n",
            random_max >= random_theory,
        ),
        Check(
            f"balls into bins n={bins}: p2c max load ~ ln ln n/ln 2 + O(1)",
            p2c_theory,
            p2c_max,
            "requests",
            "<= ln ln n/ln 2 + 2, and < random's",
            p2c_max <= p2c_theory + 2 and p2c_max < random_max,
        ),
    ]


def supermarket_time(choices: int, load: float) -> float:
    """The supermarket model's mean time in system, in service times, as n grows."""
    total, i = 0.0, 1
    while True:
        term = load ** ((choices**i - choices) / (choices - 1))
        total += term
        if term < 1e-12:
            return total
        i += 1


def supermarket(choices: int, load: float, requests: int, seed: int = 1, servers: int = 1_000):
    """p2c with ``choices`` draws over ``servers`` M/M/1 queues against T_d(load)."""
    service_ms = 1.0
    simulation = _servers_run(
        f"supermarket d={choices} load={load:g}",
        "p2c",
        [("choice_count", choices)],
        load,
        requests,
        seed,
        servers=servers,
    )
    return _interval(
        f"supermarket d={choices} load={load:g}, {servers} servers: mean latency T_d",
        supermarket_time(choices, load) * service_ms,
        simulation.kept_latencies or [],
        statistics.fmean,
        "ms",
    )


def _servers_run(
    name: str,
    strategy: str,
    options: list,
    load: float,
    requests: int,
    seed: int,
    settings: tuple = (),
    servers: int = 1_000,
) -> Simulation:
    """``servers`` M/M/1 queues (1 ms exponential service) at ``load`` per server, with no
    deadline (theory has none): the fleet of the supermarket and stale-information checks."""
    profile = synthetic_fleet(
        servers, capacity=1, latency=Latency("exponential", (("mean_ms", 1.0),))
    )
    rate = load * servers / 1e-3
    scenario = Scenario(
        name=name,
        profile=profile,
        strategy=strategy,
        strategy_options=tuple(options),
        load=LoadSpec(rate=rate, duration_s=requests / rate, drain_s=600.0),
        seed=seed,
        deadline_s=3600.0,
        settings=settings,
    )
    return _latencies_of(scenario, seed)


def _stale_run(
    strategy: str, options: list, period: float, load: float, requests: int, seed: int
) -> Simulation:
    """1 000 M/M/1 queues balanced on posted loads (view "reports") updated every
    ``period`` service times."""
    return _servers_run(
        f"{strategy} on loads posted every {period:g} service times",
        strategy,
        options,
        load,
        requests,
        seed,
        settings=(("view", "reports"), ("view_period_s", period * 1e-3)),
    )


def stale_choices(choices: int, load: float, period: float, requests: int, seed: int = 1):
    """p2c with ``choices`` draws on a bulletin board updated every ``period`` service times,
    against the numerical solution of Mitzenmacher's periodic update model."""
    from lbbench.sim.stale_theory import stale_time

    simulation = _stale_run("p2c", [("choice_count", choices)], period, load, requests, seed)
    return _interval(
        f"stale information d={choices} load={load:g}, board every {period:g} service times: "
        "mean latency (Mitzenmacher 2000, solved)",
        stale_time(load, period, choices),
        simulation.kept_latencies or [],
        statistics.fmean,
        "ms",
    )


def stale_herding(load: float, periods: tuple[float, float], requests: int, seed: int = 1):
    """Least loaded on a board herds: its time grows with the board's age much faster than
    d = 2's. Theory (least loaded with ties at random, Mitzenmacher's model) gives the
    growth from the shorter period to the longer; lbbench's least_connections breaks ties
    by smooth round robin (NGINX), which spreads a herd otherwise, so only the direction
    is checked: it grows by over 1.3x and by more than d = 2's does."""
    from lbbench.sim.stale_theory import stale_time

    def growth(strategy: str, options: list, choices: int | None) -> tuple[float, float]:
        times = []
        for period in periods:
            run = _stale_run(strategy, options, period, load, requests, seed)
            times.append(statistics.fmean(run.kept_latencies or [0.0]))
        theory = [stale_time(load, period, choices) for period in periods]
        return times[1] / times[0], theory[1] / theory[0]

    least, least_theory = growth("least_connections", [], None)
    two, two_theory = growth("p2c", [("choice_count", 2)], 2)
    return Check(
        f"stale information load={load:g}: least loaded herds; its mean latency's growth "
        f"from a board every {periods[0]:g} to every {periods[1]:g} service times "
        f"(d=2's: {two:.3f}, theory {two_theory:.3f})",
        least_theory,
        least,
        "x",
        "> 1.3 and > d=2's growth",
        least > 1.3 and least > two,
    )


def theory_checks(requests: int = 200_000, seed: int = 1) -> list[Check]:
    """Every closed-form check (what ``lbbench sim --validate`` runs)."""
    checks = [*mm1(0.5, requests, seed), *mm1(0.8, requests, seed)]
    checks.append(mmc(4, 0.8, requests, seed))
    checks.append(mmc(16, 0.9, requests, seed))
    for choices in (2, 3):
        for load in (0.7, 0.9):
            checks.append(supermarket(choices, load, requests, seed))
    for choices, period in ((2, 1.0), (2, 2.0), (3, 1.0)):
        checks.append(stale_choices(choices, 0.9, period, requests, seed))
    checks.append(stale_herding(0.9, (1.0, 2.0), requests, seed))
    for bins in (1_000, 10_000):
        checks.extend(balls_into_bins(bins))
    return checks
