"""The load contract as data: the names it knows (user classes, operations, metrics, fault target
groups, journeys) and the frozen records ``contracts/load.yaml`` is read into (``LoadContract``
and its parts: ``UserClass``, ``Operation`` and its ``SLA``, ``ProfileSettings``, ``PlannedFault``,
``FaultObjectives``, ``Journey``, ``StoredCheck``, ``SoakCheck``, ``GeneratorCheck``), with what
they answer (a profile's users, ramp and faults; when a fault is injected and for how long).

Its own module because the records are what the rest of ``genrep.load`` works with, while reading
and checking the YAML (file, key and line in every error) is ``load.contract``'s concern. Split from
``load.contract`` (issue 13), which re-exports every name here: import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genrep.errors import ConfigError


USER_CLASSES = ("clinician", "ris", "registration", "prescriber")
OPERATIONS = ("read_report", "read_medications", "send_oru", "register_adt", "prescribe")
# which user class may carry which operation (the Locust users in load/users.py implement these)
OPERATION_USER = {"read_report": "clinician", "read_medications": "clinician", "send_oru": "ris",
                  "register_adt": "registration", "prescribe": "prescriber"}
METRICS = ("p95_ms", "p99_ms", "max_failure_ratio")
#: fault targets grouped as their objectives are (``fault_objectives``): both Multum servers fail over alike
FAULT_GROUPS = {"multum-a": "multum", "multum-b": "multum", "nll": "nll", "radiology-listener": "radiology-listener"}
#: the operations a fault into each group affects, when ``fault_objectives`` does not say
DEFAULT_AFFECTED = {"multum": ("prescribe",), "nll": ("read_medications",),
                    "radiology-listener": ("send_oru", "register_adt")}


REPORT_TO_PRESCRIPTION = "report_to_prescription"
#: every journey a load user can perform (genrep.load.journey), by its name in contracts/load.yaml ``journeys``
JOURNEYS = (REPORT_TO_PRESCRIPTION,)


@dataclass(frozen=True)
class UserClass:
    name: str
    weight: int
    think_min: float
    think_max: float


@dataclass(frozen=True)
class SLA:
    p95_ms: float
    p99_ms: float
    max_failure_ratio: float


@dataclass(frozen=True)
class Operation:
    name: str
    requirement: str
    user: str
    task_weight: int
    description: str
    sla: SLA


@dataclass(frozen=True)
class PlannedFault:
    """A fault a load profile injects while the load runs, through the same drivers as the steps
    (``genrep.faults``: the virtual simulators, or an external profile's command / Toxiproxy driver)."""
    target: str
    fault: str
    at_s: float | None          # this many seconds after the load starts ...
    at_share: float | None      # ... or at this share of the run's duration ("at: 40%")
    params: dict
    requirement: str | None     # judged by the target's objectives (``fault_objectives``, contracts/multum.yaml)
    file: str = ""
    key: str = ""               # profiles.NAME.faults[i], for errors found at run time
    line: int | None = None
    for_s: float | None = None      # cleared this many seconds after it was injected ...
    for_share: float | None = None  # ... or after this share of the run ("for: 20%"); neither: at the end

    def describe(self) -> str:
        return " ".join([self.target, self.fault, *(f"{k}={v}" for k, v in self.params.items())])

    @property
    def group(self) -> str:
        """The objectives' name for the target (``multum-a`` and ``multum-b`` are both ``multum``)."""
        return FAULT_GROUPS.get(self.target, self.target)

    def lasts(self, duration_s: float) -> float | None:
        """How long the fault stays injected before it is cleared mid-run; None: until the end."""
        if self.for_s is not None:
            return self.for_s
        if self.for_share is not None:
            return duration_s * self.for_share
        return None

    def at(self, duration_s: float) -> float:
        """When to inject, in seconds after the load starts; a ConfigError when the run would
        end first (a fault never injected must not pass for a failover survived)."""
        at = self.at_s if self.at_s is not None else duration_s * (self.at_share or 0.0)
        if at >= duration_s:
            raise ConfigError(f"the fault {self.describe()} is planned at second {at:g}, but the run lasts "
                              f"{duration_s:g} s: run longer or plan it earlier", file=self.file or None,
                              key=f"{self.key}.at", line=self.line)
        lasts = self.lasts(duration_s)
        if lasts is not None and at + lasts >= duration_s:
            raise ConfigError(f"the fault {self.describe()} is planned from second {at:g} for {lasts:g} s, but "
                              f"the run lasts {duration_s:g} s: its end (and the recovery after it) would not "
                              "be seen", file=self.file or None, key=f"{self.key}.for", line=self.line)
        return at


@dataclass(frozen=True)
class ProfileSettings:
    """What a load profile changes: who its virtual users are (weights, think times), how many it
    runs when ``--users`` is not given, and the faults it injects mid-run."""
    name: str
    description: str
    default_users: int
    users: dict[str, UserClass]  # effective: the contract's users with this profile's overrides
    faults: tuple[PlannedFault, ...] = ()
    ramp_at_s: float | None = None      # the ramp lasts this many seconds ...
    ramp_share: float | None = None     # ... or this share of the run ("ramp: 75%")
    ramp_max_s: float | None = None     # ... at most this long
    like: str = ""                      # the profile whose users, default users and ramp it starts from

    def ramp_s(self, duration_s: float) -> float:
        """Seconds from the start until the peak is reached: the ramp; the steady phase follows."""
        ramp = self.ramp_at_s if self.ramp_at_s is not None else duration_s * (self.ramp_share or 0.0)
        if self.ramp_max_s is not None:
            ramp = min(ramp, self.ramp_max_s)
        return min(ramp, duration_s)


@dataclass(frozen=True)
class StoredCheck:
    """"AA is stored" under load: every ORU answered AA is counted, a sample is read back."""
    requirement: str
    sample: int


@dataclass(frozen=True)
class SoakCheck:
    """Drift over a soak: p95 at the end of the held load against p95 at its start."""
    requirement: str
    profile: str
    max_p95_growth: float   # the end may be this many times the start ...
    p95_noise_ms: float     # ... or this much slower, whichever is more (tiny latencies are noisy)

    def threshold_ms(self, start_p95_ms: float) -> float:
        return max(start_p95_ms * self.max_p95_growth, start_p95_ms + self.p95_noise_ms)


@dataclass(frozen=True)
class Journey:
    """A clinician's whole task timed as one transaction under load (``journeys``): its own virtual
    users (weight and think time beside the operation users'), its SLA, the profiles that run it."""
    name: str
    requirement: str
    description: str
    weight: int
    think_min: float
    think_max: float
    sla: SLA
    profiles: tuple[str, ...]


@dataclass(frozen=True)
class FaultObjectives:
    """What a planned fault into one group of targets is judged by (``fault_objectives``)."""
    group: str                        # multum | nll | radiology-listener
    operations: tuple[str, ...]       # the operations it affects: their SLAs skip the fault's window
    max_recovery_s: float | None = None   # None for multum: contracts/multum.yaml max_failover_seconds
    max_empty_lists: int | None = None    # nll: medication lists shown empty while NLL was down
    empty_list_requirement: str | None = None  # nll: the requirement judging the empty lists


@dataclass(frozen=True)
class GeneratorCheck:
    """When the figures of a window measure the generator or a saturated host, not the system."""
    max_cpu_percent: float = 90.0        # a Locust process above this share of its core: generator-bound
    window_s: float = 5.0                # the windows the check (and sla.json) uses
    host_max_cpu_percent: float = 95.0   # the machine's total CPU above this: host-saturated (CPU times unread)
    max_bound_share: float = 0.5         # a steady phase bound in more than this share: inconclusive
    #: CPU used by other work than the run's (plus steal), % of all cores, above this: host-saturated
    host_max_foreign_cpu_percent: float = 25.0


@dataclass(frozen=True)
class LoadContract:
    file: str
    version: str
    users: dict[str, UserClass]
    operations: dict[str, Operation]
    profiles: dict[str, ProfileSettings] = field(default_factory=dict)
    stored: StoredCheck | None = None
    generator_max_cpu_percent: float = 90.0
    soak: SoakCheck | None = None
    fault_objectives: dict[str, FaultObjectives] = field(default_factory=dict)
    generator: GeneratorCheck = field(default_factory=GeneratorCheck)
    journeys: dict[str, Journey] = field(default_factory=dict)

    def journeys_for(self, profile: str | None) -> list[Journey]:
        """The journeys the profile runs (its users include a journey user)."""
        return [j for j in self.journeys.values() if profile in j.profiles]

    def operations_of(self, user: str) -> list[Operation]:
        return [op for op in self.operations.values() if op.user == user]

    def users_for(self, profile: str | None) -> dict[str, UserClass]:
        """The user classes as the profile runs them (the contract's own when it has no entry)."""
        settings = self.profiles.get(profile or "")
        return settings.users if settings is not None else self.users

    def default_users(self, profile: str | None, fallback: int = 10) -> int:
        settings = self.profiles.get(profile or "")
        return settings.default_users if settings is not None else fallback

    def faults_for(self, profile: str | None) -> tuple[PlannedFault, ...]:
        """The faults the profile injects mid-run (none when it has no entry)."""
        settings = self.profiles.get(profile or "")
        return settings.faults if settings is not None else ()

    def fault_requirements(self, profile: str | None = None) -> list[str]:
        """Requirements judged by a planned fault: of ``profile``, or of every profile (None); an
        NLL outage brings its empty-list requirement too."""
        plans = (self.faults_for(profile) if profile is not None
                 else [f for p in self.profiles.values() for f in p.faults])
        rids = []
        for f in plans:
            if f.requirement:
                rids.append(f.requirement)
                objectives = self.fault_objectives.get(f.group)
                if objectives is not None and objectives.empty_list_requirement:
                    rids.append(objectives.empty_list_requirement)
        return list(dict.fromkeys(rids))

    def ramp_s(self, profile: str | None, duration_s: float) -> float:
        """The profile's ramp in seconds for a run of ``duration_s`` (0: steady from the start)."""
        settings = self.profiles.get(profile or "")
        return settings.ramp_s(duration_s) if settings is not None else 0.0

    def objectives_for(self, plan: PlannedFault) -> FaultObjectives:
        return self.fault_objectives.get(plan.group) or FaultObjectives(plan.group,
                                                                        DEFAULT_AFFECTED.get(plan.group, ()))

    @property
    def min_users(self) -> int:
        """Users needed so that every user class with an operation gets one (Locust: by weight)."""
        return len({op.user for op in self.operations.values()})
