"""The outcome of a request: the one status word the client receives.

These words are part of the public wire protocol (see README, "Wire
protocol"). Every request ends with exactly one of OUTCOMES; MALFORMED is
the balancer's answer to a request it could not parse, which never reaches
the router.
"""

from __future__ import annotations

OK = "ok"  # a target answered successfully
ERROR = "error"  # the target answered with a fault
TIMEOUT = "timeout"  # no answer within the deadline, after failover
UNAVAILABLE = "unavailable"  # no healthy backend could take it
OVERLOADED = "overloaded"  # the balancer shed it (too many pending)
MALFORMED = "malformed"  # the request could not be parsed

OUTCOMES: tuple[str, ...] = (OK, ERROR, TIMEOUT, UNAVAILABLE, OVERLOADED)
