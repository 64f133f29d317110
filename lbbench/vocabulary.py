"""The words lbbench speaks: request outcomes, health events, failover counters.

Every module that names one of these imports it from here, so a word has
one spelling and one meaning. They are ``StrEnum`` members: each *is* its
string (``Outcome.OK == "ok"``), so they go over the wire, into JSON and
into dict keys unchanged.

Outcomes are part of the public wire protocol (README, "Wire protocol"):
every request ends with exactly one of ``OUTCOMES``; ``MALFORMED`` is the
balancer's answer to a request it could not parse, which never reaches the
router.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """The one status word a client receives for a request."""

    OK = "ok"  # a target answered successfully
    ERROR = "error"  # the target answered with a fault
    TIMEOUT = "timeout"  # no answer within the deadline, after failover
    UNAVAILABLE = "unavailable"  # no healthy backend could take it
    OVERLOADED = "overloaded"  # the balancer shed it (too many pending)
    MALFORMED = "malformed"  # the request could not be parsed


# A request carrying its amount of work (a quantile of the server's latency
# model, lbbench.protocol.WORK_MARK) is served, on its n-th attempt (retries
# and hedges: n = 1, 2, ...), the quantile (q + n * WORK_STEP) mod 1: a retry
# or hedge meets the server's variability afresh, as a real one does (a stall
# is the server's, not the request's), and the live rig and the simulator
# give every attempt the same work.
WORK_STEP = 0.6180339887498949  # the golden ratio's fraction: steps that never repeat


def attempt_quantile(quantile: float, ordinal: int) -> float:
    """The work quantile of a request's attempt number ``ordinal`` (0: the first)."""
    return (quantile + WORK_STEP * ordinal) % 1.0


OK = Outcome.OK
ERROR = Outcome.ERROR
TIMEOUT = Outcome.TIMEOUT
UNAVAILABLE = Outcome.UNAVAILABLE
OVERLOADED = Outcome.OVERLOADED
MALFORMED = Outcome.MALFORMED

#: What a request the router took can end with (every one ends with exactly one).
OUTCOMES: tuple[Outcome, ...] = (OK, ERROR, TIMEOUT, UNAVAILABLE, OVERLOADED)


class Health(StrEnum):
    """Health events the router records (control ``events``, result timelines)."""

    JOIN = "join"  # a backend announced itself
    LEAVE = "leave"  # it said goodbye
    EJECT = "eject"  # outlier ejection took it out
    UNEJECT = "uneject"  # its ejection ended
    DOWN = "down"  # heartbeats missed
    UP = "up"  # heartbeats heard again
    OPEN = "open"  # its circuit breaker opened
    HALF_OPEN = "half_open"  # the breaker lets trial requests through
    CLOSED = "closed"  # the breaker closed again
    PANIC = "panic"  # too few healthy backends: health verdicts ignored
    CALM = "calm"  # enough healthy backends again


#: Events that take a backend out of service: the failover timing's "detected".
DETECTING: frozenset[Health] = frozenset({Health.EJECT, Health.DOWN, Health.OPEN, Health.LEAVE})


class Counter(StrEnum):
    """Counters of failover work, in router stats and in every trial's ``failover``."""

    ATTEMPTS = "attempts"  # attempts sent to backends, first tries included
    RETRIES = "retries"  # attempts after a failure
    HEDGES = "hedges"  # extra attempts sent while the first was still out
    HEDGE_WINS = "hedge_wins"  # requests a hedge answered first
    CANCELLED = "cancelled"  # attempts abandoned (lost a race, timed out)
    EJECTIONS = "ejections"  # backends ejected
    EJECTIONS_BLOCKED = "ejections_blocked"  # ejections the max-ejected limit refused
    BUDGET_EXHAUSTED = "budget_exhausted"  # retries or hedges the budget refused
    REFUSED = "refused"  # requests admission control answered overloaded at once


#: The counters a trial's result reports under ``failover`` (in this order).
TRIAL_COUNTERS: tuple[Counter, ...] = (
    Counter.ATTEMPTS,
    Counter.RETRIES,
    Counter.HEDGES,
    Counter.HEDGE_WINS,
    Counter.CANCELLED,
    Counter.EJECTIONS,
    Counter.BUDGET_EXHAUSTED,
)
