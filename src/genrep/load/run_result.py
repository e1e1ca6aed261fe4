"""What one load run measured, as records: ``LoadResult`` (the run: statistics per operation and
per phase, the generator, the windows; ``to_dict`` is sla.json's ``run``), ``FaultResult`` (one
planned fault as it happened on the run's time axis) and ``StoredResult`` ("AA is stored": the
count and the sample read back), and ``RUN_INCOMPLETE``, the reason of a run stopped early.

Its own module because every other part of a load run reads or writes these records: the
measurements (``load.measurements``) build them, the evaluation (``load.evaluation``) judges
them, the result files (``load.result_files``) write them. Split from ``load.runner`` (issue 13),
which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genrep.load.contract import PlannedFault
from genrep.load.generator import GeneratorReport
from genrep.load.stats import OperationStats, stats_to_dict


#: the reason of a run stopped early (Ctrl-C, SIGTERM, a crashed worker): every outcome it would
#: have met is inconclusive, never met (issue 18, bad input)
RUN_INCOMPLETE = "run incomplete"


@dataclass
class LoadResult:
    profile: str
    environment: str
    users: int
    duration_s: float
    workers: int
    operations: dict[str, OperationStats]
    exit_code: int          # Locust's, from the quitting listener (0 all SLAs met, 1 not)
    wall_s: float
    out_dir: Path
    stats_path: Path
    log_path: Path
    started: float = field(default=0.0)
    false_no_interactions: int = 0  # "checked, no interactions" answers for a pair that interacts
    fault: str = ""  # the fault(s) injected mid-run, if the profile plans any ("multum-a killed")
    fault_at_s: float | None = None  # when (the first), in seconds since Locust started
    recovery_s: float | None = None  # from the fault to the end of the last failing interval
    stored: StoredResult | None = None
    drift: tuple[float, float] | None = None  # soak: (p95 at the start, p95 at the end) of the held load, ms
    generator: GeneratorReport | None = None
    plot_path: Path | None = None
    history_path: Path | None = None
    ramp_s: float = 0.0  # the profile's ramp; the steady phase is [ramp_s, duration_s)
    #: what the operation SLAs judge: the steady phase, each operation without the windows of the
    #: faults that affect it (None: no per-window figures, the whole run is judged)
    judged: dict[str, OperationStats] | None = None
    ramp: dict[str, OperationStats] | None = None     # the ramp, reported apart
    steady: dict[str, OperationStats] | None = None   # the whole steady phase, fault windows included
    excluded: list[tuple[str, float, float, str]] = field(default_factory=list)  # (operation, from, to, why)
    faults: list[FaultResult] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)  # per generator window: figures and saturation
    empty_lists: int = 0  # medication lists shown empty (the load patient's list is planted)
    journeys_started: frozenset[str] = frozenset()  # journeys some user began, completed or not
    #: why the run stopped early (Ctrl-C, SIGTERM, a crashed Locust worker); None: it ran to its end
    incomplete: str | None = None

    @property
    def inconclusive(self) -> str | None:
        """"run incomplete: ..." when it stopped early; "generator saturated" / "host saturated" when
        the steady phase mostly was; None: the figures measure the system under test."""
        if self.incomplete:
            return f"{RUN_INCOMPLETE}: {self.incomplete}"
        return self.generator.inconclusive if self.generator is not None else None

    def to_dict(self) -> dict:
        steady_to = self.duration_s
        return {"profile": self.profile, "environment": self.environment, "users": self.users,
                "fault_injected": self.fault, "fault_at_s": self.fault_at_s, "recovery_s": self.recovery_s,
                "false_no_interactions": self.false_no_interactions, "empty_medication_lists": self.empty_lists,
                "journeys_started": sorted(self.journeys_started),
                "duration_s": self.duration_s, "workers": self.workers, "locust_exit_code": self.exit_code,
                "wall_s": round(self.wall_s, 2), "stats": str(self.stats_path),
                "history": str(self.history_path or ""), "plot": str(self.plot_path or ""),
                "stored": {**self.stored.to_dict(), "aa_by_stats": self._aa_by_stats()} if self.stored else None,
                "p95_drift_ms": {"start": self.drift[0], "end": self.drift[1]} if self.drift else None,
                "generator": self.generator.to_dict() if self.generator else None,
                "inconclusive": self.inconclusive, "incomplete": self.incomplete,
                "phases": {
                    "judged": "steady phase" if self.judged is not None else "whole run (no per-window figures)",
                    "ramp": {"from_s": 0.0, "to_s": round(self.ramp_s, 1),
                             "operations": stats_to_dict(self.ramp) if self.ramp is not None else None},
                    "steady": {"from_s": round(self.ramp_s, 1), "to_s": round(steady_to, 1),
                               "operations": stats_to_dict(self.steady) if self.steady is not None else None,
                               "judged_operations": stats_to_dict(self.judged) if self.judged is not None else None,
                               "left_out": [{"operation": op, "from_s": round(a, 1), "to_s": round(b, 1), "why": why}
                                            for op, a, b, why in self.excluded]}},
                "faults": [f.to_dict() for f in self.faults],
                "windows": self.windows,
                "operations": stats_to_dict(self.operations)}


    def _aa_by_stats(self) -> int | None:
        """ORUs answered AA by Locust's statistics (a send_oru request fails unless its ACK is AA
        for its own control id), plus those AA'd inside journeys: a cross-check of the accession log."""
        op = self.operations.get("send_oru")
        return None if op is None else op.requests - op.failures + (self.stored.by_journeys if self.stored else 0)


@dataclass
class FaultResult:
    """One planned fault as it happened, on the run's time axis (seconds since the test started)."""
    plan: PlannedFault
    at_s: float                  # injected
    back_s: float                # the service expected back: cleared, restarted, or at once (failover)
    recovery_s: float | None     # from back to the end of the last second an affected operation failed;
    #                              None: still failing when the load ended, or nothing measured after
    left_out: tuple[float, float]  # what the affected operations' SLAs leave out: [at_s, back_s + recovery)
    counts: dict[str, int] = field(default_factory=dict)  # failed_checks, unavailable_answers, ...

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {"fault": self.plan.describe(), "target": self.plan.target, "requirement": self.plan.requirement,
                "at_s": r(self.at_s), "back_s": r(self.back_s), "recovery_s": r(self.recovery_s),
                "left_out_s": [r(self.left_out[0]), r(self.left_out[1])], **self.counts}


@dataclass(frozen=True)
class StoredResult:
    """"AA is stored" under load: ORUs answered AA (counted by the users) against the growth of the
    load patient's stored reports, and a sample of the AA'd accessions read back."""
    accepted: int
    stored_before: int
    stored_after: int
    sampled: int
    sample_missing: list[str]
    sent: int = 0  # ORUs written (a user stopped at the end may never read its ACK)
    by_journeys: int = 0  # of ``accepted``, those answered AA inside a journey (not send_oru requests)

    @property
    def not_stored(self) -> int:
        """AA'd reports the count says are missing (0 when the store grew at least that much)."""
        return max(0, self.accepted - (self.stored_after - self.stored_before))

    @property
    def unexplained(self) -> int:
        """Reports stored beyond every ORU sent (0 when the store grew at most that much)."""
        return max(0, (self.stored_after - self.stored_before) - max(self.sent, self.accepted))

    @property
    def mismatch(self) -> int:
        return self.not_stored + self.unexplained

    def to_dict(self) -> dict:
        return {"sent": self.sent, "accepted": self.accepted, "accepted_in_journeys": self.by_journeys,
                "stored_before": self.stored_before,
                "stored_after": self.stored_after, "not_stored": self.not_stored,
                "stored_beyond_sent": self.unexplained, "sampled": self.sampled,
                "sample_missing": len(self.sample_missing), "sample_missing_accessions": self.sample_missing[:20]}
