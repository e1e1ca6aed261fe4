"""The go-live verdict: results + requirement catalogue + thresholds -> GO or NO-GO.

The programme's rule (background.md), per test type: no critical and no high defects; for
"functional test of requirements" at most 20 medium and 100 low. A failing scenario is a defect
with the severity of the requirement it verifies (the most severe, if it verifies several).
Coverage: every requirement of an integration that was exercised must have at least one executed
scenario, and a requirement passes only if all its scenarios pass. Untested requirements are named.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from genrep.config.contracts import SEVERITIES, Requirement
from genrep.results.reader import ScenarioResult

DEFAULT_THRESHOLDS: dict[str, dict[str, int]] = {
    "functional test of requirements": {"critical": 0, "high": 0, "medium": 20, "low": 100},
    "*": {"critical": 0, "high": 0, "medium": 0, "low": 0},
}


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
    go: bool
    reasons: list[str]
    defects: dict[str, Counter]  # test type -> severity counts
    requirements: dict[str, RequirementStatus]
    unknown_tags: list[str]
    results: list[ScenarioResult]
    thresholds: dict = field(default_factory=dict)  # test type ("*" = default) -> allowed by severity

    def to_dict(self) -> dict:
        return {
            "verdict": "GO" if self.go else "NO-GO",
            "reasons": self.reasons,
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


def decide(results: list[ScenarioResult], catalogue: dict[str, Requirement],
           thresholds: dict[str, dict[str, int]] | None = None,
           integrations: set[str] | None = None, *, every_requirement_verified: bool = True,
           negative_paths_per_integration: bool = True) -> Verdict:
    thresholds = thresholds or DEFAULT_THRESHOLDS
    reasons: list[str] = []  # each one blocks go-live
    notes: list[str] = []  # reported, but within the programme's allowance

    def limits_for(test_type: str) -> dict[str, int]:
        return thresholds.get(test_type, thresholds.get("*", DEFAULT_THRESHOLDS["*"]))

    unknown = sorted({rid for r in results for rid in r.requirements if rid not in catalogue})
    if unknown:
        reasons.append(f"scenarios tagged with unknown requirement ids: {', '.join(unknown)}")
    if not results:
        reasons.append("no scenario results: nothing was verified")
    exercised = integrations if integrations is not None else {
        catalogue[rid].integration for r in results for rid in r.requirements if rid in catalogue}
    statuses = {rid: RequirementStatus(req) for rid, req in catalogue.items() if req.integration in exercised}
    defects: dict[str, Counter] = defaultdict(Counter)
    untagged = [r.name for r in results if not r.requirements]
    if untagged:
        reasons.append(f"{len(untagged)} scenario(s) verify no requirement (untagged): {', '.join(untagged[:5])}")
    for r in results:
        reqs = [catalogue[rid] for rid in r.requirements if rid in catalogue]
        for req in reqs:
            # a requirement of an integration outside ``integrations`` was still exercised: report it
            statuses.setdefault(req.id, RequirementStatus(req)).scenarios.append(r)
        if r.failed and reqs:
            worst = min(reqs, key=lambda q: SEVERITIES.index(q.severity))
            defects[worst.test_type][worst.severity] += 1
        if r.status == "skipped":
            reasons.append(f"scenario skipped: {r.name} (a skipped scenario verifies nothing)")
        elif r.status not in ("passed", "failed", "broken"):
            reasons.append(f"scenario with status {r.status!r}: {r.name} (only a passed scenario verifies)")
    over: set[tuple[str, str]] = set()
    for test_type, counts in sorted(defects.items()):
        limits = limits_for(test_type)
        for sev in SEVERITIES:
            if counts.get(sev, 0) > limits.get(sev, 0):
                over.add((test_type, sev))
                reasons.append(f"{test_type}: {counts[sev]} {sev} defect(s), allowed {limits.get(sev, 0)}")
    for rid, rs in statuses.items():
        req = rs.requirement
        if rs.status == "failed":
            text = f"requirement {rid} ({req.severity}) failed: {req.title}"
            # e.g. functional tests of requirements: up to 20 medium / 100 low defects are accepted
            if limits_for(req.test_type).get(req.severity, 0) > 0 and (req.test_type, req.severity) not in over:
                notes.append(text + f" (within the allowance for {req.test_type})")
            else:
                reasons.append(text)
        elif rs.status == "untested" and req.integration in exercised and every_requirement_verified:
            reasons.append(f"requirement {rid} untested: no executed scenario verifies it")
    for integration in sorted(exercised) if negative_paths_per_integration else ():
        if not any(rs.requirement.negative and rs.status != "untested" for rs in statuses.values()
                   if rs.requirement.integration == integration):
            reasons.append(f"integration {integration}: no negative-path scenario executed")
    # ``reasons`` lists the blocking reasons first, then tolerated findings (shown as notes on GO)
    return Verdict(go=not reasons, reasons=reasons + notes, defects=dict(defects), requirements=statuses,
                   unknown_tags=unknown, results=results, thresholds=thresholds)


def summary_markdown(verdict: Verdict, *, title: str = "genrep dress rehearsal") -> str:
    d = verdict.to_dict()
    lines = [f"# {title}: {d['verdict']}", ""]
    s = d["scenarios"]
    lines.append(f"Scenarios: {s['total']} run, {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped.")
    lines.append("")
    if verdict.reasons:
        lines.append("## Why NO-GO" if not verdict.go else "## Notes")
        lines += [f"- {r}" for r in verdict.reasons]
        lines.append("")
    lines.append("## Requirements")
    lines.append("| requirement | severity | status | scenarios | classification of failures |")
    lines.append("|---|---|---|---|---|")
    for rid, rs in verdict.requirements.items():
        failed = [s for s in rs.scenarios if s.failed]
        kinds = sorted({k for s in failed for k in s.kinds})
        lines.append(f"| {rid} {rs.requirement.title} | {rs.requirement.severity} | {rs.status.upper()} | "
                     f"{len(rs.scenarios) - len(failed)}/{len(rs.scenarios)} passed | {', '.join(kinds)} |")
    failed = [r for r in verdict.results if r.failed]
    if failed:
        lines += ["", "## Failed scenarios"]
        for r in failed:
            first = r.message.strip().splitlines()[:6]
            lines.append(f"### {r.name} ({', '.join(r.requirements)})")
            lines += ["```", *first, "```"]
    return "\n".join(lines) + "\n"
