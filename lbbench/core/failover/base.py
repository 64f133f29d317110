"""The failover policy interface, and the registry of policies by mode name.

A failover mode is one ``FailoverPolicy`` subclass in a module of its own:
it owns its settings (a frozen dataclass, ``Settings``), its per-backend
and per-request state, its timers, and its hooks into the lifecycle of
requests and attempts that the router keeps. The router composes the
policies of the modes in force; it knows none of them by name. Adding a
mode is one module and ``register(YourPolicy)`` after the class (a
decorator works too on a class of your own; the built-ins, compiled, are
registered by the call); nothing else changes (a test adds
one from the test file alone).

Hooks, all optional (the router calls only the ones a policy overrides,
in the order of the policies' ``rank``):

- ``start(now)``: the policy came into force (arm periodic timers here).
- ``stop()``: it went out of force; its timers still come back to it, and
  it lets requests in flight finish, but makes no new decisions.
- ``accepts(now) -> bool``: may a new request come in at all? (False:
  it is answered ``overloaded`` at once; admission control.)
- ``on_request(request, now)``: a request arrived, before its first pick.
- ``on_dispatched(request, now)``: its first attempt went out.
- ``on_send(attempt, now)``: an attempt went out.
- ``on_attempt_done(attempt, outcome, latency, now)``: an attempt ended
  with an outcome (ok, error, timeout, unavailable).
- ``on_attempt_cancelled(attempt, now)``: an attempt was abandoned.
- ``on_failure(request, now) -> bool``: every attempt of a request failed;
  True when the policy takes it over (a retry), False to let it end.
- ``on_timer(timer, now)``: a timer the policy armed came due.
- ``admits(backend) -> bool``: may the backend get requests at all?
  (False for ejected or open-circuit ones; the router never sends there.)
- ``healthy(backend) -> bool``: the active health verdict; panic mode
  ignores it when too few backends pass it.
- ``partition(members, joined) -> [(Pool, share), ...] | None``: split the
  eligible backends into pools drawn by share (priority tiers).
- ``on_join``, ``on_leave``, ``on_heartbeat``: membership and liveness.
- ``health(backend) -> str | None``: one word for people when not healthy.
- ``describe(backend) -> dict``: per-backend fields for stats.
- ``status() -> dict``: the policy's own state for stats (e.g. a limit).

Policies act through ``self.router``, the router as a policy sees it
(``PolicyContext``, ``lbbench.core.failover.context``: arm a timer, send
an attempt, time one out, finish a request, count, note a health event,
say the pools changed, and read the backends); nothing else of the router
is theirs. What they do comes back as the actions of the router entry
point that called them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mypy_extensions import mypyc_attr

from lbbench.core.backends import BackendState
from lbbench.registry import Registry

if TYPE_CHECKING:
    from lbbench.core.actions import Timer
    from lbbench.core.failover.context import PolicyContext
    from lbbench.core.records import Attempt, Request
    from lbbench.core.strategies import Pool


@dataclass(frozen=True)
class NoSettings:
    """Settings of a mode that has none."""


# Not compiled today (setup.py says why); marked so that it can be, with
# its subclasses (users' own policies) still plain Python.
@mypyc_attr(allow_interpreted_subclasses=True)
class FailoverPolicy:
    """One failover mode at work inside a router (see the module docstring)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: The frozen dataclass of this mode's settings (all fields with defaults).
    Settings: ClassVar[type] = NoSettings
    #: True when the policy reads heartbeats (drivers that model them send them).
    needs_heartbeats: ClassVar[bool] = False
    #: True for a mode that means "no failover" and cannot be combined.
    alone: ClassVar[bool] = False
    #: Where the policy's hooks run among the modes in force (lower first):
    #: which pools (10), which backends (20, 30), extra attempts (40, 50).
    rank: ClassVar[int] = 100
    #: Kinds of this policy's timers that are always armed a constant time
    #: after the event that arms them, so they come due in the order armed
    #: (a simulator can keep them in a plain queue instead of a heap).
    in_order_timers: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: Any, router: PolicyContext) -> None:
        self.settings = settings
        self.router = router
        self.active = True

    # -- lifecycle of the policy
    def start(self, now: float) -> None:
        """The policy came into force."""

    def stop(self) -> None:
        """The policy went out of force (a run-time switch)."""
        self.active = False

    # -- requests and attempts
    def accepts(self, now: float) -> bool:
        """May a new request come in? (False: answered overloaded, never routed.)"""
        return True

    def on_request(self, request: Request, now: float) -> None:
        """A request arrived (before its first pick)."""

    def on_dispatched(self, request: Request, now: float) -> None:
        """The first attempt of ``request`` went out."""

    def on_send(self, attempt: Attempt, now: float) -> None:
        """An attempt went out."""

    def on_attempt_done(self, attempt: Attempt, outcome: str, latency: float, now: float) -> None:
        """An attempt ended: ok, error, timeout or unavailable."""

    def on_attempt_cancelled(self, attempt: Attempt, now: float) -> None:
        """An attempt was abandoned before it ended."""

    def on_failure(self, request: Request, now: float) -> bool:
        """Every attempt of ``request`` failed; True if this policy takes it over."""
        return False

    def on_timer(self, timer: Timer, now: float) -> None:
        """A timer this policy armed came due (possibly stale)."""

    # -- which backends may be used
    def admits(self, backend: BackendState) -> bool:
        return True

    def healthy(self, backend: BackendState) -> bool:
        return True

    def partition(
        self, members: Sequence[BackendState], joined: tuple[BackendState, ...]
    ) -> list[tuple[Pool, float]] | None:
        return None

    # -- membership
    def on_join(self, backend: BackendState, now: float) -> None:
        """A backend joined (or came back)."""

    def on_leave(self, backend: BackendState, now: float) -> None:
        """A backend left."""

    def on_heartbeat(self, backend: BackendState, now: float) -> None:
        """A heartbeat from a joined backend arrived."""

    # -- views
    def health(self, backend: BackendState) -> str | None:
        return None

    def describe(self, backend: BackendState) -> dict[str, Any]:
        return {}

    def status(self) -> dict[str, Any]:
        return {}


def overrides(policy: FailoverPolicy, hook: str) -> bool:
    return getattr(type(policy), hook) is not getattr(FailoverPolicy, hook)


#: Every mode by name, in composition order (by ``rank``).
FAILOVER = Registry("failover mode", order=lambda c: (c.rank, c.name))
register = FAILOVER.register
unregister = FAILOVER.unregister


def policy_class(name: str, where: str = "failover") -> type[FailoverPolicy]:
    return FAILOVER.get_class(name, where)
