"""The strategy interface, the pool a strategy picks from, and the registry by name."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from mypy_extensions import mypyc_attr

from lbbench.core.backends import BackendState
from lbbench.errors import ConfigError
from lbbench.registry import Registry
from lbbench.schema import convert, keyword_parameters

NO_EXCLUSIONS: frozenset[BackendState] = frozenset()


class RequestView(Protocol):
    """What a strategy may know of a request: its routing key, if any."""

    key: bytes | None


class Pool:
    """The backends a strategy may pick from right now.

    ``members`` are the eligible backends; ``universe`` is every joined backend
    of the same priority tier, eligible or not. The router builds a new Pool
    only when membership or health changes, and ``universe`` keeps its identity
    across health changes, so a strategy can cache derived structures (a hash
    ring, a Maglev table) keyed on the identity of ``universe`` and skip
    ineligible backends at pick time instead of rebuilding.

    ``in_flight`` is kept current by the router for the pool in use, so that
    bounded-load hashing costs O(1) per pick.
    """

    __slots__ = ("in_flight", "member_set", "members", "total_weight", "uniform", "universe")

    def __init__(
        self,
        members: Iterable[BackendState],
        universe: tuple[BackendState, ...] | None = None,
    ) -> None:
        self.members: tuple[BackendState, ...] = tuple(members)
        self.universe: tuple[BackendState, ...] = universe if universe is not None else self.members
        self.member_set: frozenset[BackendState] = frozenset(self.members)
        self.total_weight = sum(m.weight for m in self.members)
        self.uniform = len({m.weight for m in self.members}) <= 1
        self.in_flight = sum(m.in_flight for m in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"Pool({[m.id for m in self.members]})"


# Compiled (mypyc), its subclasses may still be plain Python: users' own.
@mypyc_attr(allow_interpreted_subclasses=True)
class Strategy:
    """A balancing strategy: picks one backend of a non-empty pool for a request.

    Randomness comes only from the injected ``rng`` and time only from the
    ``now`` arguments, so a strategy is deterministic under a seed and runs
    identically in the live balancer, the simulator and the tests.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: True when the strategy honours weights (so the fair share is by weight).
    weighted: ClassVar[bool] = True
    #: What the router may tell it of the backends' load (``RouterConfig.view``): every
    #: strategy takes "local"; one that reads ``BackendState.load`` also "reports".
    views: ClassVar[tuple[str, ...]] = ("local",)

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState | None:
        """Choose a member of ``pool`` (never empty) for ``request``."""
        raise NotImplementedError

    def pick_excluding(
        self,
        pool: Pool,
        request: RequestView,
        now: float,
        exclude: Collection[BackendState],
    ) -> BackendState | None:
        """Like ``pick``, but never one of ``exclude``; None when nothing is left.

        A retry must go elsewhere. Re-picking a few times keeps the strategy's
        own preference (and its O(1) cost); only when that keeps landing on
        excluded backends do we pay for a filtered pool.
        """
        if not exclude:
            return self.pick(pool, request, now)
        for _ in range(3):
            chosen = self.pick(pool, request, now)
            if chosen is not None and chosen not in exclude:
                return chosen
        rest = [m for m in pool.members if m not in exclude]
        if not rest:
            return None
        return self.pick(Pool(rest, pool.universe), request, now)

    def on_send(self, backend: BackendState, now: float) -> None:
        """An attempt was sent to ``backend`` (after its in-flight was raised)."""

    def on_done(self, backend: BackendState, latency: float, ok: bool, now: float) -> None:
        """An attempt on ``backend`` finished after ``latency`` seconds."""

    def probes(self, pool: Pool, now: float) -> Sequence[BackendState]:
        """Backends to probe now, for strategies that probe (default: none)."""
        return ()

    def on_probe(self, backend: BackendState, in_flight: int, latency: float, now: float) -> None:
        """A probe reply: the backend's own count of requests in flight and latency."""

    def status(self) -> dict[str, Any]:
        """What the strategy wants to show in stats (e.g. adaptive's current policy)."""
        return {}


STRATEGIES = Registry("strategy")
register = STRATEGIES.register


def strategy_options(name: str) -> dict[str, Any]:
    """The options a strategy accepts, with their defaults."""
    return {
        k: default for k, (_, default) in keyword_parameters(strategy_class(name).__init__).items()
    }


def strategy_class(name: str, where: str = "strategy") -> type[Strategy]:
    return STRATEGIES.get_class(name, where)


def make_strategy(
    name: str,
    rng: random.Random,
    options: Mapping[str, Any] | None = None,
    where: str = "strategy",
) -> Strategy:
    """Build a strategy by registry name, checking its options by name and type."""
    cls = strategy_class(name, where)
    allowed = keyword_parameters(cls.__init__)
    checked = {}
    for key, value in (options or {}).items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(
                f"strategy_options.{key}", f"{name} has no option {key!r} (options: {known})"
            )
        checked[key] = convert(allowed[key][0], value, f"strategy_options.{key}")
    return cls(rng, **checked)


def two_distinct(
    members: tuple[BackendState, ...], rand: Callable[[], float]
) -> tuple[BackendState, BackendState]:
    """Two different members drawn uniformly at random (needs at least two)."""
    n = len(members)
    i = int(rand() * n)
    j = int(rand() * (n - 1))
    if j >= i:
        j += 1
    return members[i], members[j]
