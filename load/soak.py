"""Load profile: soak. GENREP_LOAD_USERS users held for GENREP_LOAD_DURATION seconds after a short
ramp (contracts/load.yaml profiles.soak.ramp: 10 %, at most 60 s), to see whether latency, failures
or "AA is stored" drift over time (leaks, queues filling). Bounded like every profile: the runner
stops Locust at the duration plus a margin, whatever happens. Run through
`genrep load soak --duration 2h` for a real rehearsal (60s for CI)."""

import golive_morning
from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class Soak(golive_morning.GoLiveMorning):
    """A ramp (GENREP_LOAD_RAMP, from the contract), then the users held."""
