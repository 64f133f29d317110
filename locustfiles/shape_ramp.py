"""Ramp: users grow linearly from 1 to a peak over the run, as a slow capacity search."""

import os

from locust import LoadTestShape


class RampShape(LoadTestShape):
    peak_users = int(os.environ.get("LBBENCH_PEAK_USERS", "100"))
    total_s = float(os.environ.get("LBBENCH_TOTAL_S", "60"))

    def tick(self):
        elapsed = self.get_run_time()
        if elapsed > self.total_s:
            return None
        users = max(1, round(self.peak_users * elapsed / self.total_s))
        return users, max(1, self.peak_users // 10)
