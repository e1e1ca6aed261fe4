"""Load profile: go-live morning. Users log in from 0 to GENREP_LOAD_USERS over the first three
quarters of GENREP_LOAD_DURATION (a morning's ramp, compressed), then stay at the peak.
Run through `genrep load golive_morning`."""

import math
import os

from locust import LoadTestShape

from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class GoLiveMorning(LoadTestShape):
    users = int(os.environ.get("GENREP_LOAD_USERS", "10"))
    duration = float(os.environ.get("GENREP_LOAD_DURATION", "60"))
    ramp = max(1.0, 0.75 * duration)

    def tick(self):
        t = self.get_run_time()
        if t >= self.duration:
            return None
        target = min(self.users, max(1, math.ceil(self.users * t / self.ramp)))
        return target, max(1.0, self.users / self.ramp)
