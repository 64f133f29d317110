"""Many balancers sharing one fleet: how many, and how the requests are split among them.

``balancers = N`` runs N independent routers over the same targets, as
client-side balancing does (gRPC's policies in every client, a sidecar per
pod): each sees only the requests sent through it. ``balancers_split`` says
how the clients' requests are spread over them: ``"even"`` (each balancer
gets 1/N of them, drawn at random, so each sees a Poisson stream of its
own), or ``"zipf"`` / ``"zipf:S"`` (balancer i gets a share proportional to
1 / (i + 1)^S, S = 1 by default: a few busy clients and many quiet ones).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from typing import TypeVar

from lbbench.checks import check_number
from lbbench.core import streams
from lbbench.errors import ConfigError

SPLITS = ("even", "zipf")

T = TypeVar("T")


def check_balancers(count: object, where: str = "balancers") -> int:
    """A number of balancers: a whole number, at least 1 (one line otherwise)."""
    check_number(where, count, low=1, integer=True)
    assert isinstance(count, int)
    return count


def split_weights(count: int, split: str, where: str = "balancers_split") -> list[float]:
    """Each balancer's share of the requests (summing to 1) under ``split``."""
    name, _, exponent = split.partition(":")
    if name == "even" and not exponent:
        return [1.0 / count] * count
    if name == "zipf":
        try:
            s = float(exponent) if exponent else 1.0
        except ValueError:
            raise ConfigError(
                where, f"zipf's exponent must be a number, got {exponent!r}"
            ) from None
        check_number(where, s, low=0.0, low_open=True)
        raw = [1.0 / (i + 1) ** s for i in range(count)]
        total = sum(raw)
        return [w / total for w in raw]
    raise ConfigError(where, f"unknown split {split!r} (splits: even, zipf, zipf:<exponent>)")


def split_chooser(count: int, split: str, draw: Callable[[], float]) -> Callable[[], int]:
    """Which balancer the next request goes to: one ``draw()`` per request (a uniform
    number in [0, 1)) mapped onto the balancers' shares under ``split``. The simulator
    and the live generator choose through this, from the same stream."""
    if split == "even":
        return lambda: int(draw() * count)
    edges = list(itertools.accumulate(split_weights(count, split)))[:-1]
    return lambda: bisect.bisect_right(edges, draw())


def listing(fleet: list[T], seed: int, index: int) -> list[T]:
    """The fleet (its backends, or their ids) as balancer ``index`` of several lists
    it: the fleet's order for the first, a shuffle of its own (a stream of its own) for
    every other, as clients handed the same addresses in different orders have. An
    order-bound rule (least connections' ties go to the first of the tied) would
    otherwise have every balancer pile onto the same few. The simulated routers and
    the live balancers list the fleet through this."""
    listed = list(fleet)
    if index > 0:
        random.Random(streams.balancer_order(seed, index)).shuffle(listed)
    return listed
