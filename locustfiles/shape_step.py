"""Step load: 10 more users every 10 s up to 50, then hold for 30 s (LBBENCH_STEP_* to change)."""

import os

from locust import LoadTestShape


class StepShape(LoadTestShape):
    step_users = int(os.environ.get("LBBENCH_STEP_USERS", "10"))
    step_s = float(os.environ.get("LBBENCH_STEP_S", "10"))
    steps = int(os.environ.get("LBBENCH_STEPS", "5"))
    hold_s = float(os.environ.get("LBBENCH_HOLD_S", "30"))

    def tick(self):
        elapsed = self.get_run_time()
        if elapsed > self.steps * self.step_s + self.hold_s:
            return None
        step = min(self.steps, int(elapsed // self.step_s) + 1)
        return step * self.step_users, self.step_users
