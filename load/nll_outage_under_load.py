"""Load profile: NLL unavailable at the go-live peak. The go-live morning's users, think times and
shape, and the runner takes NLL down (HTTP 503) in the steady phase for a while, then back, through
genrep.faults (contracts/load.yaml profiles.nll_outage_under_load.faults). Every medication list
read meanwhile must say "unavailable", never show an empty list (PERF-NLL-NEVER-EMPTY), and lists
must be read again soon after NLL is back (PERF-NLL-OUTAGE). Run through
`genrep load nll_outage_under_load`."""

import golive_morning
from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class NLLOutageUnderLoad(golive_morning.GoLiveMorning):
    """The go-live morning's shape (ramp, then the steady peak)."""
