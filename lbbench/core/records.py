"""The router's bookkeeping: one record per pending request and per live attempt, and counters."""

from __future__ import annotations

from collections import Counter
from typing import Any

from lbbench.core.backends import BackendState
from lbbench.vocabulary import OUTCOMES, UNAVAILABLE
from lbbench.vocabulary import Counter as Counted


class Request:
    """A client request from arrival to its one reply.

    ``status``, ``status_backend`` and ``status_payload`` are what the
    client gets if no attempt succeeds (the latest failure wins); ``tries`` counts attempts
    that were not extras (hedges); ``waiting`` is set while a retry waits
    out its backoff; ``live`` counts attempts still out.
    """

    __slots__ = (
        "arrived",
        "attempts",
        "deadline",
        "done",
        "key",
        "last",
        "live",
        "rid",
        "status",
        "status_backend",
        "status_payload",
        "tries",
        "waiting",
    )

    def __init__(self, rid: int, key: bytes | None, now: float, deadline: float) -> None:
        self.rid = rid
        self.key = key
        self.arrived = now
        self.deadline = deadline
        self.attempts: list[Attempt] = []
        self.last: BackendState | None = None
        self.live = 0
        self.tries = 0
        self.status = UNAVAILABLE
        self.status_backend = ""
        self.status_payload = b""  # the payload of the reply that set ``status``
        self.waiting = False
        self.done = False


class Attempt:
    """One send of a request to one backend, until it is answered, fails or is cancelled."""

    __slots__ = ("aid", "backend", "done", "extra", "request", "sent_at")

    def __init__(
        self, aid: int, request: Request, backend: BackendState, now: float, extra: bool
    ) -> None:
        self.aid = aid
        self.request = request
        self.backend = backend
        self.sent_at = now
        self.extra = extra
        self.done = False


RIF_CAP = 4096


class RouterStats:
    """Counters over the router's life: requests, outcomes by status, attempts, failover work.

    The router counts what every request goes through; failover policies
    count their own work in ``counters`` (``lbbench.vocabulary.Counter``
    words, every one present from the start so results always carry them).
    """

    __slots__ = (
        "attempts",
        "cancelled",
        "counters",
        "foreign_replies",
        "late_replies",
        "outcomes",
        "panics",
        "probes",
        "requests",
        "rif",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.outcomes: Counter[str] = Counter({status: 0 for status in OUTCOMES})
        self.attempts = 0
        self.cancelled = 0
        self.late_replies = 0
        self.foreign_replies = 0  # replies from a backend the attempt was not sent to
        self.panics = 0
        self.probes = 0
        # rif[n]: attempts sent to a backend that then had n attempts in flight
        # from us (this one included; the last cell counts RIF_CAP and more):
        # the requests-in-flight each request joined, Prequal's measure of queueing.
        self.rif: list[int] = [0] * (RIF_CAP + 1)
        self.counters: Counter[str] = Counter(
            {name: 0 for name in Counted if name not in (Counted.ATTEMPTS, Counted.CANCELLED)}
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "requests": self.requests,
            "attempts": self.attempts,
            "cancelled": self.cancelled,
            "late_replies": self.late_replies,
            "foreign_replies": self.foreign_replies,
            "panics": self.panics,
            "probes": self.probes,
        }
        data.update(self.counters)
        data["outcomes"] = dict(self.outcomes)
        return data

    def rif_counts(self) -> dict[str, int]:
        """The requests-in-flight histogram, sparse: {"n": attempts that joined n}."""
        return {str(n): count for n, count in enumerate(self.rif) if count}
