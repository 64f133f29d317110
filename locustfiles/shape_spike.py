"""Spike: a base of users, a short spike to several times as many, back to the base."""

import os

from locust import LoadTestShape


class SpikeShape(LoadTestShape):
    base_users = int(os.environ.get("LBBENCH_BASE_USERS", "10"))
    spike_users = int(os.environ.get("LBBENCH_SPIKE_USERS", "60"))
    spike_at_s = float(os.environ.get("LBBENCH_SPIKE_AT_S", "20"))
    spike_s = float(os.environ.get("LBBENCH_SPIKE_S", "10"))
    total_s = float(os.environ.get("LBBENCH_TOTAL_S", "60"))

    def tick(self):
        elapsed = self.get_run_time()
        if elapsed > self.total_s:
            return None
        if self.spike_at_s <= elapsed < self.spike_at_s + self.spike_s:
            return self.spike_users, self.spike_users  # all at once: that is a spike
        return self.base_users, self.base_users
