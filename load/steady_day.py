"""Load profile: a steady day. GENREP_LOAD_USERS users (all started within the first second or so)
for GENREP_LOAD_DURATION seconds. Run through `genrep load steady_day`."""

import os

from locust import LoadTestShape

from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class SteadyDay(LoadTestShape):
    users = int(os.environ.get("GENREP_LOAD_USERS", "10"))
    duration = float(os.environ.get("GENREP_LOAD_DURATION", "60"))

    def tick(self):
        if self.get_run_time() >= self.duration:
            return None
        return self.users, max(1.0, float(self.users))
