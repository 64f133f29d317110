"""What a peer on the backend socket may send: what its traffic explains, and no more.

The frontend has an inbox with a CoDel rule; the backend socket had nothing,
so one peer sending heartbeats or forged replies as fast as it could took the
balancer's time from every client (a polite client's p99 x4.5 to x5.6,
issue 24). Now each peer has a budget, a token bucket:

- a joined target earns one message for every message the balancer sends it
  that asks for an answer (a request, a probe), and ``rate_per_s`` more each
  second (heartbeats, READY, goodbyes: 20 a second at most from a target that
  heartbeats every 50 ms), up to ``burst`` saved;
- peers that have not joined share one small bucket (they may announce
  themselves, and be asked who they are, and nothing more);
- a message over budget is dropped unread and counted; a peer that keeps on
  (``quarantine_after`` messages dropped) is quarantined for
  ``quarantine_s``: everything from it is dropped at the first look, and it is
  named once in the log and in stats, and its connection is closed
  (``balancer.cut``; with CurveZMQ keys, only authorized peers get a
  connection at all).

The records are bounded: one bucket per joined target, one for all strangers
(with a count of each one's excess, at most ``MAX_STRANGERS``), and at most
``MAX_QUARANTINED`` quarantined ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbbench.checks import check_number

MAX_QUARANTINED = 1_000
MAX_STRANGERS = 10_000  # strangers whose excess is counted one by one


@dataclass(frozen=True)
class BudgetSettings:
    rate_per_s: float = 200.0  # messages a second any joined target may send beyond answers
    burst: float = 400.0  # saved up at most
    strangers_per_s: float = 100.0  # all peers that have not joined, together
    quarantine_after: int = 2_000  # messages over budget before a peer is quarantined
    quarantine_s: float = 30.0

    def __post_init__(self) -> None:
        check_number("rate_per_s", self.rate_per_s, low=0.0, low_open=True)
        check_number("burst", self.burst, low=1.0)
        check_number("strangers_per_s", self.strangers_per_s, low=0.0, low_open=True)
        check_number("quarantine_after", self.quarantine_after, low=1, integer=True)
        check_number("quarantine_s", self.quarantine_s, low=0.0, low_open=True)


class _Bucket:
    __slots__ = ("at", "over", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.at = now
        self.over = 0  # messages dropped since the bucket last had tokens to spare


class PeerBudgets:
    """The budgets of the backend socket's peers (``allows`` on every message in)."""

    def __init__(self, settings: BudgetSettings | None = None) -> None:
        self.settings = settings = settings or BudgetSettings()
        self._joined: dict[str, _Bucket] = {}
        self._strangers = _Bucket(settings.strangers_per_s, 0.0)
        self._stranger_over: dict[str, int] = {}  # over budget, by stranger (bounded)
        self._quarantined: dict[str, float] = {}  # peer -> until when
        self.dropped = 0  # messages over budget, and from quarantined peers
        self.quarantines = 0  # quarantines begun
        #: peers quarantined since this was last read (the balancer logs them)
        self.newly_quarantined: list[str] = []

    def allows(self, peer: str, joined: bool, now: float) -> bool:
        """Whether a message from ``peer`` may be read (False: drop it unread)."""
        if self._quarantined:
            until = self._quarantined.get(peer)
            if until is not None:
                if now < until:
                    self.dropped += 1
                    return False
                del self._quarantined[peer]
        settings = self.settings
        if joined:
            bucket = self._joined.get(peer)
            if bucket is None:
                bucket = self._joined[peer] = _Bucket(settings.burst, now)
            rate, cap = settings.rate_per_s, settings.burst
        else:
            bucket, rate = self._strangers, settings.strangers_per_s
            cap = rate
        tokens = bucket.tokens
        if tokens < cap:
            tokens = min(cap, tokens + (now - bucket.at) * rate)
        bucket.at = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            bucket.over = 0
            return True
        bucket.tokens = tokens
        self.dropped += 1
        if joined:
            bucket.over += 1
            over = bucket.over
        else:  # strangers share a bucket, but each is quarantined for its own excess
            counts = self._stranger_over
            if len(counts) >= MAX_STRANGERS and peer not in counts:
                counts.clear()  # many ids at once: start counting afresh
            over = counts[peer] = counts.get(peer, 0) + 1
        if over >= settings.quarantine_after:
            self._quarantine(peer, now)
            bucket.over = 0
            self._stranger_over.pop(peer, None)
        return False

    def quarantined(self, peer: str, now: float) -> bool:
        until = self._quarantined.get(peer)
        return until is not None and now < until

    def earned(self, peer: str) -> None:
        """The balancer sent ``peer`` something that asks for an answer: one more message."""
        bucket = self._joined.get(peer)
        if bucket is not None:
            bucket.tokens += 1.0

    def left(self, peer: str) -> None:
        """A target left: its bucket goes (a stranger's bucket is shared)."""
        self._joined.pop(peer, None)

    def _quarantine(self, peer: str, now: float) -> None:
        if len(self._quarantined) >= MAX_QUARANTINED:
            return  # (the drops go on being counted)
        self._quarantined[peer] = now + self.settings.quarantine_s
        self.quarantines += 1
        self.newly_quarantined.append(peer)

    def stats(self, now: float) -> dict[str, object]:
        return {
            "dropped": self.dropped,
            "quarantines": self.quarantines,
            "quarantined": sorted(p for p, until in self._quarantined.items() if until > now),
        }
