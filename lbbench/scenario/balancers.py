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

from lbbench.checks import check_number
from lbbench.errors import ConfigError

SPLITS = ("even", "zipf")


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
