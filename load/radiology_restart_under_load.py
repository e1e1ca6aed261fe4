"""Load profile: the EHR's radiology MLLP listener restarted at the go-live peak. The go-live
morning's users, think times and shape, and the runner restarts the listener in the steady phase
through genrep.faults (open connections dropped, new ones refused for a few seconds, then back;
contracts/load.yaml profiles.radiology_restart_under_load.faults). Nothing answered AA may be lost
(every AA'd ORU counted and the store's growth compared, a sample read back: the PERF-STORED check)
and the senders get AA again soon after (PERF-RADIOLOGY-RESTART). Run through
`genrep load radiology_restart_under_load`."""

import golive_morning
from users import ClinicianUser, PrescriberUser, RegistrationUser, RisUser  # noqa: F401 - the users of this profile


class RadiologyRestartUnderLoad(golive_morning.GoLiveMorning):
    """The go-live morning's shape (ramp, then the steady peak)."""
