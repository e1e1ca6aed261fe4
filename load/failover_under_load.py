"""Load profile: failover under load. A steady load of GENREP_LOAD_USERS users for GENREP_LOAD_DURATION
seconds, while the runner kills Multum server "multum-a" at 40 % of the run through genrep.faults
(the profile's faults in contracts/load.yaml). Judged by the Multum contract's objectives: failed checks
during the failover and false "no interactions". Run through `genrep load failover_under_load`."""

import os

from locust import LoadTestShape

from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class FailoverUnderLoad(LoadTestShape):
    users = int(os.environ.get("GENREP_LOAD_USERS", "10"))
    duration = float(os.environ.get("GENREP_LOAD_DURATION", "60"))

    def tick(self):
        if self.get_run_time() >= self.duration:
            return None
        return self.users, max(1.0, float(self.users))
