"""The verdict's data types: the verdict words (GO, NO-GO, INCOMPLETE ...), a ``Gap`` in the scope,
a requirement's status from its scenarios, and the ``Verdict`` with its serialised form
(``Verdict.to_dict``: the ``verdict.json`` ``genrep gate`` and ``rehearse`` write, and what the
readiness scorecard reads its figures from).

Its own module because every other part of the gate shares these types and nothing else: the scope
check (``genrep.results.gate_scope``) makes ``Gap``s, the deciding logic
(``genrep.results.gate_decision``) builds the ``Verdict``, and the renderers
(``genrep.results.gate``, ``readiness``, ``junit``) read it. All are importable from
``genrep.results.gate`` as before (issue 13).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from genrep.config.contracts import Requirement, Scope
from genrep.results.defects import Defect
from genrep.results.reader import ScenarioResult

GO, PARTIAL_GO, NO_GO, INCOMPLETE = "GO", "PARTIAL GO", "NO-GO", "INCOMPLETE"
GO_WITH_DEVIATIONS = "GO WITH RECORDED DEVIATIONS"
VERDICTS = (GO, GO_WITH_DEVIATIONS, PARTIAL_GO, NO_GO, INCOMPLETE)


@dataclass(frozen=True)
class Gap:
    """A part of the scope a GO needs that this run lacks: a test type, an integration, a load
    profile, a requirement or an integration's negative path. ``part``: the gate.yaml scope part it
    belongs to (None: outside every part, so it cannot be waived)."""
    kind: str  # "test type" | "integration" | "load profile" | "requirement" | "negative path" | "manual result"
    name: str
    why: str
    part: str | None = None
    requirements: tuple[str, ...] = ()  # requirements it leaves untested

    def describe(self) -> str:
        if self.kind == "requirement":
            return f"requirement {self.name} untested: {self.why}"
        if self.kind == "negative path":
            return f"integration {self.name}: {self.why}"
        if self.kind == "manual result":
            return f"manual result {self.name}: {self.why}"
        return f"{self.kind} {self.name} {self.why}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "why": self.why, "part": self.part,
                "requirements": list(self.requirements), "text": self.describe()}


@dataclass
class RequirementStatus:
    requirement: Requirement
    scenarios: list[ScenarioResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        # Only an executed scenario verifies anything: skipped/unknown ones do not count as passes.
        if any(s.failed for s in self.scenarios):
            return "failed"
        if not any(s.status == "passed" for s in self.scenarios):
            return "untested"
        return "passed"


@dataclass
class Verdict:
    status: str  # GO | PARTIAL GO | NO-GO | INCOMPLETE
    reasons: list[str]  # failures, then what is missing, then what was waived, then notes
    defects: dict[str, Counter]  # test type -> severity counts
    requirements: dict[str, RequirementStatus]
    unknown_tags: list[str]
    results: list[ScenarioResult]
    thresholds: dict = field(default_factory=dict)  # test type ("*" = default) -> allowed by severity
    failures: list[str] = field(default_factory=list)  # each one makes it NO-GO
    missing: list[Gap] = field(default_factory=list)  # each one keeps it from GO (INCOMPLETE)
    waived: list[Gap] = field(default_factory=list)  # missing, but in a part the caller accepted as partial
    accepted_partial: list[str] = field(default_factory=list)  # the parts the caller waived
    notes: list[str] = field(default_factory=list)  # within the programme's allowance
    scope: Scope | None = None
    defect_candidates: list[Defect] = field(default_factory=list)  # the failures clustered, most severe first
    count: str = "scenarios"  # what ``defects`` counts: defect candidates or failing scenarios
    blocking: list[str] = field(default_factory=list)  # of ``failures``: thresholds passed, results unusable
    failed_requirements: list[str] = field(default_factory=list)  # of ``failures``: each failed requirement
    register: object = None  # genrep.results.register.RegisterView when a defect register was applied
    trend: object = None  # genrep.results.trend.Trend when a previous full rehearsal is known
    stale: list[str] = field(default_factory=list)  # stale manual failures (still counted): retest them

    @property
    def go(self) -> bool:
        """A go-live GO: nothing failed and nothing of the scope is missing or waived."""
        return self.status == GO

    @property
    def untested(self) -> list[str]:
        return [rid for rid, rs in self.requirements.items() if rs.status == "untested"]

    def to_dict(self) -> dict:
        failing = sum(r.failed for r in self.results)
        return {
            "verdict": self.status,
            "defects": {"counted": self.count, "candidates": len(self.defect_candidates),
                        "failing_scenarios": failing,
                        "by_severity": dict(Counter(d.severity for d in self.defect_candidates)),
                        "list": [d.to_dict() for d in self.defect_candidates]},
            "reasons": self.reasons,
            "failures": self.failures,
            "register": self.register.to_dict() if self.register is not None else None,
            "trend": self.trend.to_dict() if self.trend is not None else None,
            "scope": {
                "complete": not self.missing and not self.waived,
                "missing": [g.to_dict() for g in self.missing],
                "waived": [g.to_dict() for g in self.waived],
                "accepted_partial": self.accepted_partial,
                "parts": {p.name: {"test_types": list(p.test_types), "integrations": list(p.integrations),
                                   "load_profiles": {lp.name: {"min_duration_s": lp.min_duration_s,
                                                               "min_users": lp.min_users}
                                                     for lp in p.load_profiles}}
                          for p in (self.scope.parts if self.scope else ())},
            },
            "untested_requirements": self.untested,
            "notes": self.notes,
            "stale_manual_failures": self.stale,
            "manual": {"results": sum(bool(r.manual_test_type) for r in self.results),
                       "by_test_type": dict(Counter(r.manual_test_type for r in self.results if r.manual_test_type))},
            "defects_by_test_type": {t: dict(c) for t, c in self.defects.items()},
            "thresholds": self.thresholds,
            "scenarios": {"total": len(self.results),
                          "passed": sum(r.status == "passed" for r in self.results),
                          "failed": sum(r.failed for r in self.results),
                          "skipped": sum(r.status == "skipped" for r in self.results)},
            "requirements": {rid: {"status": rs.status, "severity": rs.requirement.severity,
                                   "title": rs.requirement.title, "test_type": rs.requirement.test_type,
                                   "scenarios": [{"name": s.name, "status": s.status,
                                                  "classification": s.kinds} for s in rs.scenarios]}
                             for rid, rs in self.requirements.items()},
        }
