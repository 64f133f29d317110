"""fail_fast: no failover at all."""

from __future__ import annotations

from lbbench.core.failover.base import FailoverPolicy, register


class FailFast(FailoverPolicy):
    """No second chance: a failed or timed-out attempt is the answer.

    The request's deadline is its only timeout. Nothing else happens, so
    this policy takes part in no hook; it exists so that "no failover" is
    a mode a user can name and compare.
    """

    name = "fail_fast"
    summary = "no second chance: a failed or timed-out attempt is the answer"
    rank = 60
    alone = True


register(FailFast)
