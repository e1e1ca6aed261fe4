"""Load profile: go-live morning. Users log in from 0 to GENREP_LOAD_USERS over the profile's ramp
(contracts/load.yaml profiles.golive_morning.ramp, passed as GENREP_LOAD_RAMP: three quarters of
GENREP_LOAD_DURATION, a morning's log-ins compressed), then stay at the peak: the steady phase,
which the SLAs are judged on (the ramp is reported apart). Run through `genrep load golive_morning`."""

import math
import os

from locust import LoadTestShape

from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile
from users import JourneyUser  # noqa: F401 - clinicians' whole tasks (contracts/load.yaml journeys)


class GoLiveMorning(LoadTestShape):
    users = int(os.environ.get("GENREP_LOAD_USERS", "10"))
    duration = float(os.environ.get("GENREP_LOAD_DURATION", "60"))
    ramp = float(os.environ.get("GENREP_LOAD_RAMP", str(0.75 * duration)))

    def tick(self):
        t = self.get_run_time()
        if t >= self.duration:
            return None
        if self.ramp <= 0:
            return self.users, max(1.0, float(self.users))
        target = min(self.users, max(1, math.ceil(self.users * t / self.ramp)))
        return target, max(1.0, self.users / self.ramp)
