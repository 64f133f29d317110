"""The live rig's own latency measured in a trial (``rigs.calibration.in_trial_overhead``):
the clients' mean latency less the targets' mean residence, only where both counted the
same requests; otherwise no figure, and the reason."""

from __future__ import annotations

import pytest

from lbbench.results.recorder import Recorder
from lbbench.rigs.calibration import in_trial_overhead


def _recorder(latencies_ms: list[float], status: str = "ok", lost: int = 0) -> Recorder:
    recorder = Recorder()
    for index, latency in enumerate(latencies_ms):
        recorder.sent += 1
        recorder.record_reply(status, "t0", latency / 1e3, latency / 1e3, index * 0.001)
    recorder.sent += lost
    recorder.lost = lost
    return recorder


@pytest.mark.parametrize(
    ("recorder", "attempts", "tally", "why"),
    [
        (_recorder([3.0, 5.0]), 2, None, "did not report"),
        (_recorder([3.0, 5.0], status="error"), 2, (2, 0.004), "not every request"),
        (_recorder([3.0, 5.0], lost=1), 3, (2, 0.004), "not every request"),
        (_recorder([3.0, 5.0]), 3, (3, 0.006), "other than one attempt"),
        (_recorder([3.0, 5.0]), 2, (1, 0.002), "tallied 1 answers of 2"),
    ],
)
def test_no_figure_where_clients_and_targets_did_not_count_the_same(recorder, attempts, tally, why):
    overhead = in_trial_overhead(recorder, attempts, tally)
    assert overhead["mean_ms"] is None
    assert why in overhead["why"]


def test_the_rigs_own_is_the_clients_mean_less_the_targets_mean():
    # two requests of 3 and 5 ms end to end that the targets held 2.5 and 4.1 ms
    overhead = in_trial_overhead(_recorder([3.0, 5.0]), 2, (2, 0.0066))
    assert overhead["requests"] == 2
    assert overhead["residence_ms"] == pytest.approx(3.3)
    # the histogram keeps microseconds to 3 significant digits
    assert overhead["mean_ms"] == pytest.approx(0.7, abs=0.01)
