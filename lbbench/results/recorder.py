"""What a load generator records: HdrHistograms, outcome and per-backend counts, a timeline.

Latencies are recorded in microseconds, twice: *corrected* from the
intended send time (the schedule), so a stall shows up in the tail instead
of vanishing (coordinated omission), and *uncorrected* from the actual
send time, which is what a closed-loop tool would report. Histograms from
several processes merge without loss (HdrHistogram addition).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from hdrh.histogram import HdrHistogram

from lbbench.vocabulary import OUTCOMES

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
TIMELINE_STEP_S = 0.1
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def copy_histogram(histogram: HdrHistogram) -> HdrHistogram:
    copy = new_histogram()
    copy.add(histogram)
    return copy


def encode(histogram: HdrHistogram) -> str:
    """The standard compressed HdrHistogram encoding, as text."""
    data = histogram.encode()
    return data.decode() if isinstance(data, bytes) else data


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode() if isinstance(text, str) else text)


def summarize(histogram: HdrHistogram) -> dict[str, float]:
    """p50, p90, p99, p99.9, max and mean in milliseconds (0 when empty)."""
    if histogram.get_total_count() == 0:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p99.9": 0.0, "max": 0.0, "mean": 0.0}
    out = {f"p{q:g}": histogram.get_value_at_percentile(q) / 1e3 for q in PERCENTILES}
    out["max"] = histogram.get_max_value() / 1e3
    out["mean"] = histogram.get_mean_value() / 1e3
    return out


def clamp_us(seconds: float) -> int:
    """A latency in whole microseconds, within the histograms' range."""
    return max(LOWEST_US, min(HIGHEST_US, int(seconds * 1e6)))


class BucketTally:
    """Counts values by HdrHistogram bucket in a dict, to add to a histogram later.

    Each value is keyed by the lowest value of its histogram bucket, so
    ``flush`` yields exactly the histogram that recording every value would
    (counts, percentiles, min, max and mean alike) at a fraction of the
    cost per value: what lets the simulator record millions of requests.
    Memory is bounded by the number of buckets, not of values.
    """

    __slots__ = ("counts", "exact_bits")

    def __init__(self, histogram: HdrHistogram | None = None) -> None:
        histogram = histogram or new_histogram()
        # values below 2**exact_bits have buckets of width one
        self.exact_bits = histogram.sub_bucket_half_count_magnitude + 1 + histogram.unit_magnitude
        self.counts: dict[int, int] = {}

    def add(self, value: int) -> None:
        shift = value.bit_length() - self.exact_bits
        if shift > 0:
            value = (value >> shift) << shift
        counts = self.counts
        counts[value] = counts.get(value, 0) + 1

    def flush(self, histogram: HdrHistogram) -> None:
        for value, count in self.counts.items():
            histogram.record_value(value, count)
        self.counts.clear()


class Recorder:
    """Counters and histograms of one generator (or of several, merged)."""

    def __init__(self) -> None:
        self.corrected = new_histogram()
        self.uncorrected = new_histogram()
        self.send_lag = new_histogram()
        self.sent = 0
        self.outcomes: Counter[str] = Counter({status: 0 for status in OUTCOMES})
        self.served_by: Counter[str] = Counter()
        self.errors_by: Counter[str] = Counter()
        self.lost = 0
        self.unknown_replies = 0
        # timeline bucket -> status counts, and bucket -> backend -> ok count
        self.timeline: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self.timeline_backends: defaultdict[int, Counter[str]] = defaultdict(Counter)

    def record_send(self, lag_s: float) -> None:
        self.sent += 1
        self.send_lag.record_value(clamp_us(lag_s))

    def record_reply(
        self,
        status: str,
        backend: str,
        corrected_s: float,
        uncorrected_s: float,
        offset_s: float,
    ) -> None:
        """One answer; ``offset_s`` is its intended send time from the start of load."""
        if status not in self.outcomes:
            status = "error"  # a status the protocol does not know is a failure, loudly counted
            self.unknown_replies += 1
        self.outcomes[status] += 1
        self.corrected.record_value(clamp_us(corrected_s))
        self.uncorrected.record_value(clamp_us(uncorrected_s))
        self.count_reply(status, backend, offset_s)

    def count_reply(self, status: str, backend: str, offset_s: float) -> None:
        """The counters and timeline of one answer (its latency recorded elsewhere)."""
        bucket = int(offset_s / TIMELINE_STEP_S)
        self.timeline[bucket][status] += 1
        if backend:
            if status == "ok":
                self.served_by[backend] += 1
                self.timeline_backends[bucket][backend] += 1
            else:
                self.errors_by[backend] += 1

    def merge(self, other: Recorder) -> None:
        self.corrected.add(other.corrected)
        self.uncorrected.add(other.uncorrected)
        self.send_lag.add(other.send_lag)
        self.sent += other.sent
        self.outcomes.update(other.outcomes)
        self.served_by.update(other.served_by)
        self.errors_by.update(other.errors_by)
        self.lost += other.lost
        self.unknown_replies += other.unknown_replies
        for bucket, counts in other.timeline.items():
            self.timeline[bucket].update(counts)
        for bucket, counts in other.timeline_backends.items():
            self.timeline_backends[bucket].update(counts)

    @property
    def answered(self) -> int:
        return sum(self.outcomes.values())

    def to_wire(self) -> dict[str, Any]:
        """A picklable, JSON-able form (histograms encoded)."""
        return {
            "corrected": encode(self.corrected),
            "uncorrected": encode(self.uncorrected),
            "send_lag": encode(self.send_lag),
            "sent": self.sent,
            "outcomes": dict(self.outcomes),
            "served_by": dict(self.served_by),
            "errors_by": dict(self.errors_by),
            "lost": self.lost,
            "unknown_replies": self.unknown_replies,
            "timeline": {str(k): dict(v) for k, v in self.timeline.items()},
            "timeline_backends": {str(k): dict(v) for k, v in self.timeline_backends.items()},
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Recorder:
        recorder = cls()
        recorder.corrected = decode(data["corrected"])
        recorder.uncorrected = decode(data["uncorrected"])
        recorder.send_lag = decode(data["send_lag"])
        recorder.sent = data["sent"]
        recorder.outcomes.update(data["outcomes"])
        recorder.served_by.update(data["served_by"])
        recorder.errors_by.update(data["errors_by"])
        recorder.lost = data["lost"]
        recorder.unknown_replies = data["unknown_replies"]
        for key, counts in data["timeline"].items():
            recorder.timeline[int(key)].update(counts)
        for key, counts in data["timeline_backends"].items():
            recorder.timeline_backends[int(key)].update(counts)
        return recorder
