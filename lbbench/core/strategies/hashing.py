"""Consistent hashing by request key: a ring with virtual nodes, and Maglev."""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Collection
from hashlib import blake2b

from lbbench.checks import check_number
from lbbench.core.backends import BackendState
from lbbench.core.strategies.base import (
    NO_EXCLUSIONS,
    Pool,
    RequestView,
    Strategy,
    register,
)
from lbbench.errors import ConfigError

_INDEX_BITS = 24  # ring points carry their owner's index in the low bits
_INDEX_MASK = (1 << _INDEX_BITS) - 1


def hash64(data: bytes) -> int:
    """A 64-bit hash that is the same in every process (unlike ``hash()``)."""
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little")


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def next_prime(n: int) -> int:
    while not is_prime(n):
        n += 1
    return n


MAX_TABLE_SIZE = 1_000_003  # a prime: a table of a million entries at most


class _KeyHashing(Strategy):
    """Shared walk for hash strategies: a cyclic list of owners and a start point.

    A key hashes to a start position; the walk goes forward to the first
    owner that is eligible (a pool member), not excluded (a retry goes
    elsewhere) and, with bounded load, below its load cap. Owners are built
    over the pool's *universe*, so ejecting a backend moves only its own keys
    (to the next owner along) and costs no rebuild.

    Bounded load (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
    Bounded Loads", 2018): a backend may hold at most
    ceil(c x (in-flight total + 1) x weight / total weight) requests, so no
    backend carries more than c times its fair share.

    Requests without a key are spread evenly by round robin over the members.
    """

    def __init__(self, rng: random.Random, bounded_load: bool, load_factor: float) -> None:
        super().__init__(rng)
        check_number("strategy_options.load_factor", load_factor, low=1.0, low_open=True)
        self.bounded_load = bounded_load
        self.load_factor = float(load_factor)
        self._universe: tuple[BackendState, ...] | None = None
        self._owners: list[BackendState] = []
        self._next = rng.randrange(1 << 30)

    # Subclasses: build the owner sequence and map a key hash to a start index.
    def _build(self, universe: tuple[BackendState, ...]) -> list[BackendState]:
        raise NotImplementedError

    def _start(self, key_hash: int) -> int:
        raise NotImplementedError

    def pick(self, pool: Pool, request: RequestView, now: float) -> BackendState | None:
        return self._locate(pool, request.key, NO_EXCLUSIONS)

    def pick_excluding(
        self,
        pool: Pool,
        request: RequestView,
        now: float,
        exclude: Collection[BackendState],
    ) -> BackendState | None:
        return self._locate(pool, request.key, exclude)

    def _cap_factor(self, pool: Pool) -> float:
        return self.load_factor * (pool.in_flight + 1) / pool.total_weight

    def _locate(
        self, pool: Pool, key: bytes | None, exclude: Collection[BackendState]
    ) -> BackendState | None:
        factor = self._cap_factor(pool) if self.bounded_load else 0.0
        if key is None:
            return self._spread(pool, exclude, factor)
        universe = pool.universe
        if universe is not self._universe and universe != self._universe:
            self._owners = self._build(universe)
        self._universe = universe
        owners = self._owners
        n = len(owners)
        members = pool.member_set
        position = self._start(hash64(key))
        for _ in range(n):
            backend = owners[position]
            if (
                backend in members
                and backend not in exclude
                and (not factor or backend.in_flight < math.ceil(factor * backend.weight))
            ):
                return backend
            position += 1
            if position == n:
                position = 0
        return None

    def _spread(
        self, pool: Pool, exclude: Collection[BackendState], factor: float
    ) -> BackendState | None:
        members = pool.members
        for _ in range(len(members)):
            self._next += 1
            backend = members[self._next % len(members)]
            if backend not in exclude and (
                not factor or backend.in_flight < math.ceil(factor * backend.weight)
            ):
                return backend
        return None


class RingHash(_KeyHashing):
    """Consistent hashing on a ring with virtual nodes (Karger et al.; Envoy ring_hash).

    Rule: each backend owns ``vnodes x weight`` points on a 64-bit ring
    (pseudo-random, seeded by the hash of its id); a key goes to the owner
    of the first point at or after the key's hash, wrapping around.
    Removing one of n backends moves only its own keys, about 1/n of them.
    The ring is capped at ``max_ring_size`` points (each backend keeps at
    least one). Cost O(log points) per pick.
    Options: bounded_load, load_factor (c, default 1.25).
    """

    name = "ring_hash"
    summary = "consistent hash ring with virtual nodes, by request key; bounded-load option"

    def __init__(
        self,
        rng: random.Random,
        *,
        vnodes: int = 100,
        max_ring_size: int = 1 << 20,
        bounded_load: bool = False,
        load_factor: float = 1.25,
    ) -> None:
        super().__init__(rng, bounded_load, load_factor)
        check_number("strategy_options.vnodes", vnodes, low=1, high=10_000, integer=True)
        check_number(
            "strategy_options.max_ring_size", max_ring_size, low=1, high=1 << 24, integer=True
        )
        self.vnodes = int(vnodes)
        self.max_ring_size = int(max_ring_size)
        self._hashes: list[int] = []

    def _build(self, universe: tuple[BackendState, ...]) -> list[BackendState]:
        wanted = self.vnodes * sum(b.weight for b in universe)
        scale = min(1.0, self.max_ring_size / wanted) if wanted else 1.0
        # A backend's points are the first ``count`` outputs of a generator
        # seeded by the hash of its id: the same in every process, and a
        # weight change keeps the points it already had. Each point is packed
        # with its owner's index so that one sort of plain ints builds the ring.
        packed: list[int] = []
        for index, backend in enumerate(universe):
            count = max(1, round(self.vnodes * backend.weight * scale))
            bits = random.Random(hash64(backend.id.encode())).getrandbits
            packed.extend((bits(64) << _INDEX_BITS) | index for _ in range(count))
        packed.sort()
        self._hashes = [p >> _INDEX_BITS for p in packed]
        return [universe[p & _INDEX_MASK] for p in packed]

    def _start(self, key_hash: int) -> int:
        position = bisect_left(self._hashes, key_hash)
        return 0 if position == len(self._hashes) else position


class Maglev(_KeyHashing):
    """Maglev hashing (Eisenbud et al., NSDI 2016; Envoy maglev).

    Rule: every backend has a pseudo-random permutation of a prime-sized
    lookup table (offset and skip from two hashes of its id); backends take
    turns claiming their next free preferred slot until the table is full,
    a backend of weight w taking w turns for every turn of a weight-1 one.
    A key goes to ``table[hash(key) mod M]``. Lookup is O(1); building is
    about M ln M steps, done only when backends join or leave. The table
    size M is prime (default 65537) and grows to the next prime >= 10 x the
    number of backends when a fleet outgrows it. Options: bounded_load,
    load_factor (c, default 1.25).
    """

    name = "maglev"
    summary = "Maglev lookup table (prime size), O(1) by request key; bounded-load option"

    def __init__(
        self,
        rng: random.Random,
        *,
        table_size: int = 65537,
        bounded_load: bool = False,
        load_factor: float = 1.25,
    ) -> None:
        super().__init__(rng, bounded_load, load_factor)
        # bounded first: the table is built in memory, and a huge number takes
        # seconds just to test for primality
        check_number(
            "strategy_options.table_size", table_size, low=2, high=MAX_TABLE_SIZE, integer=True
        )
        if not is_prime(table_size):
            raise ConfigError("strategy_options.table_size", f"must be a prime, got {table_size!r}")
        self.table_size = table_size
        self.size = table_size

    def _build(self, universe: tuple[BackendState, ...]) -> list[BackendState]:
        n = len(universe)
        size = self.table_size if n * 10 <= self.table_size else next_prime(10 * n)
        self.size = size
        if n == 0:
            return []
        positions = []
        skips = []
        for backend in universe:
            digest = blake2b(backend.id.encode(), digest_size=16).digest()
            positions.append(int.from_bytes(digest[:8], "little") % size)
            skips.append(int.from_bytes(digest[8:], "little") % (size - 1) + 1)
        max_weight = max(b.weight for b in universe)
        shares = [b.weight / max_weight for b in universe]
        turns_taken = [0.0] * n
        table = [-1] * size
        filled = 0
        rounds = 0
        while True:
            rounds += 1
            for i in range(n):
                # Weighted Maglev as Envoy does it: a backend takes a turn only
                # while its turns so far are behind weight/max_weight x rounds.
                if shares[i] * rounds < turns_taken[i]:
                    continue
                turns_taken[i] += 1.0
                slot = positions[i]
                skip = skips[i]
                while table[slot] >= 0:
                    slot += skip
                    if slot >= size:
                        slot -= size
                table[slot] = i
                slot += skip
                positions[i] = slot - size if slot >= size else slot
                filled += 1
                if filled == size:
                    return [universe[i] for i in table]

    def _start(self, key_hash: int) -> int:
        return key_hash % self.size


register(RingHash)
register(Maglev)
