"""Who is on the balancer's backend socket: targets' announcements checked, silence noticed.

A target announces itself with ``READY`` and a JSON object. Its routing id
must be a target id (letters, digits and ``._:-``, at most 64 characters:
it is shown in logs and pages); its ``weight``
(an integer, 1 to 10 000) and ``tier`` (0 to 100) are checked like a
profile's, unless the balancer was given the fleet's profile, whose values
win. Every message from a peer counts as hearing from it; a joined target
not heard from for ``forget_after_s`` (every target heartbeats every
50 ms) is removed, so peers that vanish without a goodbye do not stay in
the pools forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lbbench import protocol as p
from lbbench.checks import check_number
from lbbench.core.backend_spec import id_problem
from lbbench.core.backends import Backend
from lbbench.errors import ConfigError
from lbbench.schema import convert

MAX_WEIGHT = 10_000
MAX_TIER = 100
FORGET_AFTER_S = 10.0
# Backends the balancer keeps a record of (joined or gone: a departed
# target's counts stay in the stats). A READY from a new id beyond this is
# ignored, so peers coming and going under fresh ids cannot grow it without end.
MAX_BACKENDS = 10_000


def backend_from_ready(
    sender: str, frame: bytes, known: Mapping[str, Backend], records: Mapping[str, Any]
) -> Backend:
    """The backend a READY announces (ProtocolError or ConfigError when it is not acceptable);
    ``records``: the backends the balancer has a record of."""
    problem = id_problem(sender)
    if problem is not None:
        raise ConfigError("READY routing id", problem)
    if sender not in records and len(records) >= MAX_BACKENDS:
        raise ConfigError("READY", f"{MAX_BACKENDS} backends on record already: no new ones")
    meta: Any = p.decode_json(frame, "READY")
    if not isinstance(meta, dict):
        raise ConfigError("READY", "metadata must be a JSON object")
    if sender in known:
        return known[sender]
    weight = convert(int, meta.get("weight", 1), "READY.weight")
    tier = convert(int, meta.get("tier", 0), "READY.tier")
    check_number("READY.weight", weight, low=1, high=MAX_WEIGHT)
    check_number("READY.tier", tier, low=0, high=MAX_TIER)
    return Backend(sender, weight=weight, tier=tier)


class Silence:
    """When each peer was last heard from, and which joined ones have gone silent."""

    def __init__(self, forget_after_s: float = FORGET_AFTER_S) -> None:
        check_number("--forget-after", forget_after_s, low=0.0, low_open=True)
        self.forget_after_s = forget_after_s
        self._heard: dict[str, float] = {}

    def heard(self, peer: str, now: float) -> None:
        self._heard[peer] = now

    def forget(self, peer: str) -> None:
        self._heard.pop(peer, None)

    def silent(self, joined: list[str], now: float) -> list[tuple[str, float]]:
        """Joined peers not heard from for longer than ``forget_after_s``, with for how long."""
        out = []
        for peer in joined:
            since = now - self._heard.get(peer, now)
            if since > self.forget_after_s:
                out.append((peer, since))
        return out
