"""Load profile: soak. GENREP_LOAD_USERS users held for GENREP_LOAD_DURATION seconds after a short
ramp, to see whether latency, failures or "AA is stored" drift over time (leaks, queues filling).
Bounded like every profile: the runner stops Locust at the duration plus a margin, whatever happens.
Run through `genrep load soak --duration 2h` for a real rehearsal (60s for CI)."""

import math
import os

from locust import LoadTestShape

from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class Soak(LoadTestShape):
    users = int(os.environ.get("GENREP_LOAD_USERS", "10"))
    duration = float(os.environ.get("GENREP_LOAD_DURATION", "60"))
    ramp = min(60.0, max(1.0, 0.1 * duration))

    def tick(self):
        t = self.get_run_time()
        if t >= self.duration:
            return None
        return min(self.users, max(1, math.ceil(self.users * t / self.ramp))), max(1.0, self.users / self.ramp)
