"""Load profile: failover at the go-live peak. The go-live morning's users, think times and shape
(users log in over the ramp, then the steady peak: about 200 requests/s with 6,000 users), and the
runner kills Multum server "multum-a" in the steady phase through genrep.faults (the profile's
faults in contracts/load.yaml). Judged by the Multum contract's objectives (PERF-FAILOVER): failed
interaction checks after the kill, false "no interactions", recovery time. Run through
`genrep load failover_under_load`."""

import golive_morning
from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class FailoverUnderLoad(golive_morning.GoLiveMorning):
    """The go-live morning's shape (ramp, then the steady peak)."""
