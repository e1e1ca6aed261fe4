"""The go-live verdict: results + requirement catalogue + thresholds + scope -> GO, NO-GO or INCOMPLETE.

The programme's rule (background.md), per test type: no critical and no high defects; for
"functional test of requirements" at most 20 medium and 100 low. What is counted is gate.yaml's
``count``: defect candidates (``genrep.results.defects``: the failing scenarios clustered, each
with the highest severity of its requirements, counted once in each test type it fails), or failing
scenarios, each a defect with the severity of the requirement it verifies (the most severe, if it
verifies several; ``decide``'s own default).
Coverage: every requirement of an integration that was exercised must have at least one executed
scenario, and a requirement passes only if all its scenarios pass. Untested requirements are named.

Completeness (gate.yaml ``scope``): the test types, integrations and load profiles (with their
minimum duration and users) a GO needs. A run lacking any of them, or leaving a requirement
untested, is INCOMPLETE: never GO, and NO-GO only if something also failed. A caller may accept a
partial run by naming the parts it waives (``accept_partial``): the verdict is then PARTIAL GO, with
the waived parts listed, never a plain GO.

Manual results (``genrep.results.manual``: user acceptance, usability, peripherals, workstream
verification) are results like the suite's, counted in their own test type. Blocked, not run and
stale passes verify nothing: each is a gap (never GO); a stale failure still fails; a manual pass
never turns a failure of the same requirement into a pass (a requirement passes only if all its
results pass).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from genrep.config.contracts import COUNTS, SEVERITIES, Requirement, Scope
from genrep.errors import ConfigError
from genrep.results.defects import Defect, cluster
from genrep.results.reader import ScenarioResult

DEFAULT_THRESHOLDS: dict[str, dict[str, int]] = {
    "functional test of requirements": {"critical": 0, "high": 0, "medium": 20, "low": 100},
    "*": {"critical": 0, "high": 0, "medium": 0, "low": 0},
}

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


def check_accept_partial(scope: Scope | None, names: Iterable[str]) -> list[str]:
    """The part names a caller waives, each one a part of ``scope``; otherwise a ConfigError that
    names the parts there are (a typo must not waive nothing silently, nor everything)."""
    names = list(dict.fromkeys(names))
    known = scope.names if scope is not None else ()
    for name in names:
        if name not in known:
            raise ConfigError(f"--accept-partial {name!r}: no such part in the gate's scope "
                              f"(parts: {', '.join(known) or 'none'})", file=getattr(scope, "file", None),
                              key="scope.parts")
    return names


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


def _number(value) -> float | None:
    """A result parameter as a number: allure-python stores reprs ('60 s', "'6000'")."""
    text = str(value).strip().strip("'\"").strip()
    if text.endswith(" s"):
        text = text[:-2]
    try:
        return float(text)
    except ValueError:
        return None


def test_type_of(result: ScenarioResult, requirement: Requirement) -> str:
    """The test type a result counts in: a manual result's own (user acceptance test ...), else its
    requirement's."""
    return result.manual_test_type or requirement.test_type


def _part_of_test_type(scope: Scope | None, test_type: str) -> str | None:
    return next((p.name for p in scope.parts if test_type in p.test_types), None) if scope is not None else None


def _manual_gaps(results: list[ScenarioResult], scope: Scope | None) -> list[Gap]:
    """Manual results that verify nothing (blocked, not run, stale passes): each a gap, never a defect."""
    return [Gap("manual result", r.name, (r.message.splitlines() or [r.status])[0],
                _part_of_test_type(scope, r.manual_test_type), tuple(r.requirements))
            for r in results if r.manual_test_type and not r.executed]


def _scope_gaps(results: list[ScenarioResult], catalogue: dict[str, Requirement], scope: Scope,
                statuses: dict[str, RequirementStatus]) -> list[Gap]:
    """What of ``scope`` the results lack: test types and integrations with no executed scenario,
    load profiles that never ran, did not complete, or ran shorter or with fewer users than needed."""
    gaps: list[Gap] = []
    executed = [r for r in results if r.executed]
    ran_types = {test_type_of(r, catalogue[rid]) for r in executed for rid in r.requirements if rid in catalogue}
    # an integration ran when the suite exercised it: a manual result alone does not make it so
    ran_integrations = {catalogue[rid].integration for r in executed if not r.manual_test_type
                        for rid in r.requirements if rid in catalogue}
    for part in scope.parts:
        for test_type in part.test_types:
            if test_type not in ran_types:
                gaps.append(Gap("test type", test_type, "never ran: no executed scenario verifies a requirement "
                                "of this test type", part.name))
        for integration in part.integrations:
            if integration not in ran_integrations:
                rids = tuple(rid for rid, rs in statuses.items() if rs.requirement.integration == integration)
                critical = sum(statuses[rid].requirement.severity == "critical" for rid in rids)
                gaps.append(Gap("integration", integration,
                                f"never ran: its {len(rids)} requirement(s) are untested"
                                + (f" ({critical} critical)" if critical else "")
                                + (f": {', '.join(rids)}" if rids else ""), part.name, rids))
        for lp in part.load_profiles:
            mine = [r for r in results if r.load_profile == lp.name]
            measured = [r for r in mine if r.executed and r.parameters.get("duration") is not None]
            needs = lp.describe()
            if not mine:
                gaps.append(Gap("load profile", lp.name, f"never ran (the scope needs {needs})", part.name))
                continue
            if not measured:
                gaps.append(Gap("load profile", lp.name, f"did not complete (the scope needs {needs})", part.name))
                continue
            duration = min((_number(r.parameters.get("duration")) or 0.0) for r in measured)
            users = min((_number(r.parameters.get("users")) or 0.0) for r in measured)
            short = []
            if lp.min_duration_s and duration < lp.min_duration_s:
                short.append(f"ran {duration:g} s, needs at least {lp.min_duration_s:g} s")
            if lp.min_users and users < lp.min_users:
                short.append(f"ran {users:g} users, needs at least {lp.min_users}")
            if short:
                gaps.append(Gap("load profile", lp.name, "too small: " + "; ".join(short), part.name))
    return gaps


def decide(results: list[ScenarioResult], catalogue: dict[str, Requirement],
           thresholds: dict[str, dict[str, int]] | None = None,
           integrations: set[str] | None = None, *, every_requirement_verified: bool = True,
           negative_paths_per_integration: bool = True, scope: Scope | None = None,
           accept_partial: Iterable[str] = (), count: str = "scenarios", register=None,
           today=None, manual_max_age_days: int = 30) -> Verdict:
    """The verdict. ``scope`` (gate.yaml): what a GO needs; without it only what ran is judged
    (library callers and tests of one integration). ``accept_partial``: scope parts the caller
    waives (a pre-merge pipeline), each recorded in the verdict. ``count``: what the thresholds
    count, defect candidates (``genrep.results.defects``; gate.yaml's default, which ``genrep gate``
    and ``rehearse`` pass) or failing scenarios (the default here, for callers judging one check).
    ``register``: the defect register (``genrep.results.register.Register``): tracker ids, assessed
    severities and deviations; ``today``: the date deviations' validity and manual results' age are
    judged on (default: today); ``manual_max_age_days``: gate.yaml ``manual.max_age_days``."""
    if count not in COUNTS:
        raise ValueError(f"count must be one of {', '.join(COUNTS)}; got {count!r}")
    thresholds = thresholds or DEFAULT_THRESHOLDS
    accepted = check_accept_partial(scope, accept_partial)
    # outages are not defects: a scenario that could not reach its endpoint verified nothing (never GO)
    unavailable = [r for r in results if r.failed and "environment_unavailable" in r.kinds]
    results = [r for r in results if not (r.failed and "environment_unavailable" in r.kinds)]
    # nor are load figures that measure a saturated generator or host, or a run stopped early
    # (load_inconclusive): not verified (never GO), never a product defect; the profile did run
    inconclusive = [r for r in results if r.failed and "load_inconclusive" in r.kinds]
    results = [r for r in results if not (r.failed and "load_inconclusive" in r.kinds)]
    failures: list[str] = []  # each one makes it NO-GO
    notes: list[str] = []  # reported, but within the programme's allowance
    results, stale_notes = _judge_age(results, today, manual_max_age_days)

    def limits_for(test_type: str) -> dict[str, int]:
        return thresholds.get(test_type, thresholds.get("*", DEFAULT_THRESHOLDS["*"]))

    unknown = sorted({rid for r in results for rid in r.requirements if rid not in catalogue})
    if unknown:
        failures.append(f"scenarios tagged with unknown requirement ids: {', '.join(unknown)}")
    if not results and not unavailable:
        failures.append("no scenario results: nothing was verified")
    exercised = integrations if integrations is not None else {
        catalogue[rid].integration for r in results for rid in r.requirements if rid in catalogue}
    required = set(exercised) | (scope.integrations if scope is not None else set())
    # every requirement of a required integration shows, untested ones too
    statuses = {rid: RequirementStatus(req) for rid, req in catalogue.items() if req.integration in required}
    untagged = [r.name for r in results if not r.requirements]
    if untagged:
        failures.append(f"{len(untagged)} scenario(s) verify no requirement (untagged): {', '.join(untagged[:5])}")
    for r in results:
        reqs = [catalogue[rid] for rid in r.requirements if rid in catalogue]
        for req in reqs:
            # a requirement of an integration outside ``integrations`` was still exercised: report it
            statuses.setdefault(req.id, RequirementStatus(req)).scenarios.append(r)
        if r.manual_test_type and not r.executed:
            continue  # blocked, not run or stale: a gap (_manual_gaps), not a failure
        if r.status == "skipped":
            failures.append(f"scenario skipped: {r.name} (a skipped scenario verifies nothing)")
        elif r.status not in ("passed", "failed", "broken"):
            failures.append(f"scenario with status {r.status!r}: {r.name} (only a passed scenario verifies)")
    candidates = cluster(results, catalogue)
    view = None
    if register is not None:  # tracker ids, assessed severities, deviations (issue 15, part 3)
        from genrep.results.register import apply
        for d in candidates:
            d.registered = True
        view = apply(register, candidates, today=today)
    defect_of = {id(sc): d for d in candidates for sc in d.scenarios}

    def judge(excluded: frozenset[str] = frozenset()) -> tuple[dict[str, Counter], list[str], list[str]]:
        """(counts by test type, threshold failures, failed requirements beyond the allowance, as
        failures, then notes) without the candidates in ``excluded`` (those a valid deviation covers:
        only to word the verdict; the counts reported are always judge()'s, with nothing excluded)."""
        counted_defects: dict[str, Counter] = defaultdict(Counter)
        out: list[str] = []
        out_notes: list[str] = []
        for r in results:
            reqs = [catalogue[rid] for rid in r.requirements if rid in catalogue]
            if r.failed and reqs and count == "scenarios" and not (
                    id(r) in defect_of and defect_of[id(r)].id in excluded):
                worst = min(reqs, key=lambda q: SEVERITIES.index(q.severity))
                counted_defects[test_type_of(r, worst)][worst.severity] += 1
        if count == "defects":  # each candidate once in each test type it fails scenarios of
            for d in candidates:
                if d.id in excluded:
                    continue
                for test_type in sorted({test_type_of(sc, _worst(sc, catalogue)) for sc in d.scenarios
                                         if _worst(sc, catalogue) is not None}):
                    counted_defects[test_type][d.severity] += 1
        over: set[tuple[str, str]] = set()
        for test_type, counts in sorted(counted_defects.items()):
            limits = limits_for(test_type)
            for sev in SEVERITIES:
                if counts.get(sev, 0) > limits.get(sev, 0):
                    over.add((test_type, sev))
                    out.append(f"{test_type}: {counts[sev]} {sev} defect(s), allowed {limits.get(sev, 0)}"
                               + (" (failing scenarios counted one by one: gate.yaml count: scenarios)"
                                  if count == "scenarios" else ""))
        for rid, rs in statuses.items():
            req = rs.requirement
            if rs.status != "failed":
                continue
            failing = [sc for sc in rs.scenarios if sc.failed]
            if excluded and all(id(sc) in defect_of and defect_of[id(sc)].id in excluded for sc in failing):
                continue
            text = f"requirement {rid} ({req.severity}) failed: {req.title}"
            # e.g. functional tests of requirements: up to 20 medium / 100 low defects are accepted;
            # counting defects, at the severity of the defect each failed scenario is under
            counted = ({(test_type_of(sc, req), req.severity) for sc in failing} if count == "scenarios" else
                       {(test_type_of(sc, req), defect_of[id(sc)].severity) for sc in failing if id(sc) in defect_of})
            if all(limits_for(tt).get(sev, 0) > 0 and (tt, sev) not in over for tt, sev in counted):
                out_notes.append(text + f" (within the allowance for {req.test_type})")
            else:
                out.append(text)
        return counted_defects, out, out_notes

    defects, judged, notes = judge()
    failures += judged
    gaps = _scope_gaps(results + inconclusive, catalogue, scope, statuses) if scope is not None else []
    gaps += _manual_gaps(results, scope)
    gaps += [Gap("scenario", r.name, "verified nothing, environment unavailable (" + _unavailable_reason(r) + ")") for r in unavailable]
    gaps += [Gap("scenario", r.name, "verified nothing, load figures inconclusive ("
                 + (r.message.splitlines() or [""])[0].removeprefix("load_inconclusive: ")[:240] + ")")
             for r in inconclusive]
    never_ran = {g.name for g in gaps if g.kind == "integration"}
    for rid, rs in statuses.items():
        req = rs.requirement
        if rs.status == "untested" and req.integration in required and req.integration not in never_ran \
                and every_requirement_verified:
            gaps.append(Gap("requirement", rid, "no executed scenario verifies it",
                            scope.part_of_integration(req.integration) if scope is not None else None, (rid,)))
    for integration in sorted(required - never_ran) if negative_paths_per_integration else ():
        if not any(rs.requirement.negative and rs.status != "untested" for rs in statuses.values()
                   if rs.requirement.integration == integration):
            gaps.append(Gap("negative path", integration, "no negative-path scenario executed",
                            scope.part_of_integration(integration) if scope is not None else None))
    missing = [g for g in gaps if g.part not in accepted]
    waived = [g for g in gaps if g.part in accepted]
    # a NO-GO whose only blocking defects valid deviations cover is worded GO WITH RECORDED
    # DEVIATIONS: the counts and the failures listed stay exactly as they are
    deviated = False
    if failures and view is not None and view.covered and failures == judged:
        _, residual, _ = judge(frozenset(view.covered))
        deviated = not residual
    if failures and not deviated:
        status = NO_GO
    elif missing:
        status = INCOMPLETE
    elif waived:
        status = PARTIAL_GO
    elif deviated:
        status = GO_WITH_DEVIATIONS
    else:
        status = GO
    # what blocks first (thresholds, bad results), then each defect, then the failed requirements
    failed_reqs = [f for f in failures if f.startswith("requirement ")]
    blocking = [f for f in failures if f not in failed_reqs]
    failures = blocking + [f"defect {d.describe()}" for d in candidates] + failed_reqs if failures else []
    reasons = (failures + [g.describe() for g in missing]
               + [f"{g.describe()} (accepted as partial: --accept-partial {g.part})" for g in waived] + stale_notes
               + notes)
    return Verdict(status=status, reasons=reasons, defects=dict(defects), requirements=statuses,
                   unknown_tags=unknown, results=results, thresholds=thresholds, failures=failures,
                   missing=missing, waived=waived, accepted_partial=accepted, notes=notes, scope=scope,
                   defect_candidates=candidates, count=count, blocking=blocking, failed_requirements=failed_reqs,
                   register=view, stale=stale_notes)


def _judge_age(results: list[ScenarioResult], today, max_age_days: int) -> tuple[list[ScenarioResult], list[str]]:
    """Manual results older than ``max_age_days``: a stale pass verifies nothing (skipped, saying so:
    a gap until retested); a stale failure still fails (noted). Returns the results and the notes."""
    import dataclasses
    import datetime as dt

    from genrep.results.manual import is_stale
    today = today or dt.date.today()
    out, notes = [], []
    for r in results:
        if r.manual_test_type and r.executed and is_stale(r, today, max_age_days):
            age = f"dated {r.param('date') or 'never'}, more than {max_age_days} days before {today.isoformat()} " \
                  "(gate.yaml manual.max_age_days)"
            if r.status == "passed":
                r = dataclasses.replace(r, status="skipped", message=f"Stale ({r.manual_test_type}): passed, but "
                                        f"{age}: verifies nothing until retested; tester {r.param('tester')}, "
                                        f"evidence {r.param('evidence') or 'none'}")
            else:
                notes.append(f"manual result {r.name} is stale ({age}): its failure still counts until retested")
        out.append(r)
    return out, notes


def _unavailable_reason(result: ScenarioResult) -> str:
    """The transport's own words for an unreachable endpoint (``environment_unavailable``)."""
    lines = [ln.strip() for ln in result.message.splitlines() if ln.strip()]
    first = lines[0].split(": ", 1)[-1] if lines and lines[0].split(": ", 1)[0].endswith(
        ("Error", "Timeout", "Refused")) else (lines[0] if lines else "")
    return first.removeprefix("environment_unavailable: ")[:240]


def _worst(result: ScenarioResult, catalogue: dict[str, Requirement]) -> Requirement | None:
    reqs = [catalogue[rid] for rid in result.requirements if rid in catalogue]
    return min(reqs, key=lambda q: SEVERITIES.index(q.severity)) if reqs else None


HEADLINE = {
    GO: "every part of the scope ran and nothing blocks go-live",
    PARTIAL_GO: "nothing failed in what ran, but parts of the scope were waived (--accept-partial): "
                "not a go-live verdict",
    GO_WITH_DEVIATIONS: "open defects block a plain GO; each is covered by a recorded, signed, unexpired "
                        "deviation (a decision to go live with it), listed here: not a plain GO",
    NO_GO: "something failed that blocks go-live",
    INCOMPLETE: "nothing failed, but the run lacks parts a GO needs (contracts/gate.yaml scope): never GO",
}


def deviation_lines(verdict: Verdict, lang: str = "en") -> list[str]:
    """The register's first-screen lines: each recorded deviation (what it covers, or why it counts
    for nothing), then the register's flags (ambiguous matches, a fixed defect back) and the
    severities it assessed below the requirements'. Empty without a register."""
    view = verdict.register
    if view is None:
        return []
    out = [f"deviation {s.describe()}" for s in view.deviations]
    out += [f"(defect register) {f}" for f in view.flags]
    out += [f"(defect register) {cid} assessed {a}, below its requirements' {r}" for cid, (a, r) in view.assessed.items()
            if SEVERITIES.index(a) > SEVERITIES.index(r)]
    from genrep.results.i18n import tr
    return [tr(lang, x) for x in out]


def verdict_line(verdict: Verdict) -> str:
    """The one line CI logs show: the verdict, its defects, its deviations, and what is missing or waived."""
    line = f"VERDICT: {verdict.status}"
    if verdict.defect_candidates:
        line += f" ({defects_sentence(verdict)})"
    view = verdict.register
    if view is not None and view.deviations:
        if view.valid:
            line += " (deviations: " + "; ".join(
                f"{s.deviation.defect} for {', '.join(s.covers)} by {s.deviation.decided_by}, {s.deviation.role}, "
                f"until {s.deviation.expires.isoformat()}" for s in view.valid) + ")"
        if view.void:
            line += " (counting for nothing: " + "; ".join(f"{s.deviation.defect}: {s.why.split(' (')[0]}"
                                                           for s in view.void) + ")"
    if verdict.missing:
        line += f" (missing: {'; '.join(_short(g) for g in verdict.missing)})"
    if verdict.waived:
        line += (f" (waived by --accept-partial {', '.join(verdict.accepted_partial)}: "
                 f"{'; '.join(_short(g) for g in verdict.waived)})")
    return line


def defects_sentence(verdict: Verdict, lang: str = "en") -> str:
    """``5 defect candidates (4 critical, 1 high) behind 38 failing scenarios``"""
    by = Counter(d.severity for d in verdict.defect_candidates)
    failing = sum(r.failed for r in verdict.results)
    n = len(verdict.defect_candidates)
    view = verdict.register
    if lang != "en":
        from genrep.results.i18n import t
        text = t(lang, "{n} defect candidate(s) ({by}) behind {failing} failing scenario(s)", n=n, failing=failing,
                 by=", ".join(f"{by[sev]} {t(lang, sev)}" for sev in SEVERITIES if by[sev]))
        if view is not None:
            text += t(lang, "; {n} new (in no register entry)", n=len(view.new))
            if view.covered:
                text += t(lang, ", {n} under a recorded deviation", n=len(view.covered))
        return text
    text = (f"{n} defect candidate{'s' if n != 1 else ''} ("
            + ", ".join(f"{by[sev]} {sev}" for sev in SEVERITIES if by[sev])
            + f") behind {failing} failing scenario{'s' if failing != 1 else ''}")
    view = verdict.register
    if view is not None:
        text += f"; {len(view.new)} new (in no register entry)"
        if view.covered:
            text += f", {len(view.covered)} under a recorded deviation"
    return text


def defects_markdown(verdict: Verdict, *, scenarios_each: int = 50, lang: str = "en") -> list[str]:
    """Each defect candidate with its requirements, symptoms and scenarios under it."""
    from genrep.results.i18n import t, tr
    if lang == "en":  # as it always read (the Allure attachment, and tests of its wording)
        out = [f"## Defects: {defects_sentence(verdict)}",
               "Failing scenarios clustered by integration, failure kind and signature (genrep.results.defects); "
               "each defect has the highest severity of its requirements. The gate counts "
               + ("defects" if verdict.count == "defects" else "failing scenarios, one by one")
               + " (contracts/gate.yaml count).", ""]
    else:
        counted = t(lang, "defects") if verdict.count == "defects" else t(lang, "failing scenarios, one by one")
        out = ["## " + t(lang, "Defects: {sentence}", sentence=defects_sentence(verdict, lang)),
               t(lang, "Failing scenarios clustered by integration, failure kind and signature (genrep.results.defects); "
                       "each defect has the highest severity of its requirements. The gate counts {counted} "
                       "(contracts/gate.yaml count).", counted=counted), ""]
    for d in verdict.defect_candidates:
        reqs = ", ".join(f"{rid} ({t(lang, d.requirements[rid].severity)})" for rid in d.requirement_ids())
        kinds = ", ".join(f"{k} ×{n}" for k, n in d.kinds.most_common())
        out += [f"### {d.id} {t(lang, d.severity)}{tr(lang, d.tracker_note)} · {tr(lang, d.title)}",
                t(lang, "{n} scenario(s); requirements {reqs}; kinds {kinds}; key `{key}`", n=len(d.scenarios),
                  reqs=reqs or t(lang, "none"), kinds=kinds or t(lang, "none"), key=d.key), ""]
        out += [f"- {t(lang, 'symptom ({n} scenario(s))', n=n) if lang != 'en' else f'symptom ({n} scenario' + ('s' if n != 1 else '') + ')'}: `{sig}`"
                for sig, n in d.signatures.most_common(4)]
        out += [f"  - {t(lang, 'scenario')}: {sc.name} ({', '.join(sc.requirements)}) {t(lang, sc.status.upper())}"
                for sc in d.scenarios[:scenarios_each]]
        if len(d.scenarios) > scenarios_each:
            out.append("  - " + t(lang, "... and {n} more", n=len(d.scenarios) - scenarios_each))
        out += [f"  - {t(lang, 'also seen in')}: {sc.name} ({', '.join(sc.requirements)}), "
                f"{t(lang, 'filed under another defect')}" for sc in d.also[:scenarios_each]]
        out.append("")
    return out


def _short(gap: Gap) -> str:
    if gap.kind == "integration":
        return f"integration {gap.name} ({len(gap.requirements)} requirement(s) untested)"
    return f"{gap.kind} {gap.name}" if gap.kind != "negative path" else f"negative path of {gap.name}"


def first_screen(verdict: Verdict) -> list[str]:
    """What every output shows first, after the verdict: deviations and the register's flags, what
    blocks, what is missing or waived, the trend."""
    out = list(deviation_lines(verdict))
    out += verdict.blocking or verdict.failed_requirements
    out += [g.describe() for g in verdict.missing]
    out += [f"{g.describe()} (waived by --accept-partial {g.part})" for g in verdict.waived]
    out += verdict.stale
    if verdict.trend is not None:
        out.append(f"trend {verdict.trend.sentence()}")
    return out


def readiness_status(verdict: Verdict) -> dict:
    """The Allure readiness item's status: red (failed) on NO-GO and INCOMPLETE, never green then."""
    if verdict.status in (NO_GO, INCOMPLETE):
        return {"status": "failed", "message": f"GO-LIVE VERDICT: {verdict.status}: {HEADLINE[verdict.status]}"}
    return {"status": "passed", "message": ""}


def severity_word(lang: str, severity: str) -> str:
    from genrep.results.i18n import t
    return t(lang, severity)


def manual_rows(verdict: Verdict) -> list[dict]:
    """Each manual result of the run: test type, requirements, result (Passed, Failed, Blocked, Not run;
    ``Stale`` for a stale pass),
    tester, date, evidence."""
    out = []
    for r in verdict.results:
        if not r.manual_test_type:
            continue
        result = "Stale" if r.message.startswith("Stale (") else (r.param("result") or r.status).capitalize()
        out.append({"test_type": r.manual_test_type, "requirements": ", ".join(r.requirements), "result": result,
                    "tester": r.param("tester"), "date": r.param("date"), "evidence": r.param("evidence")})
    return out


def manual_markdown(verdict: Verdict, lang: str = "en") -> list[str]:
    from genrep.results.i18n import t
    rows = manual_rows(verdict)
    if not rows:
        return []
    out = [f"## {t(lang, 'Manual results')}",
           f"| {t(lang, 'test type')} | {t(lang, 'requirement')} | {t(lang, 'result')} | {t(lang, 'tester')} | "
           f"{t(lang, 'date')} | {t(lang, 'evidence')} |", "|---|---|---|---|---|---|"]
    out += [f"| {t(lang, m['test_type'])} | {m['requirements']} | {t(lang, m['result'])} | {m['tester']} | {m['date']} | "
            f"{m['evidence']} |" for m in rows]
    return out + [""]


def trend_markdown(verdict: Verdict, lang: str = "en") -> list[str]:
    from genrep.results.i18n import t
    out = [f"## {t(lang, 'Trend since the previous full rehearsal')}"]
    tr = verdict.trend
    if tr is None:
        return out + [t(lang, "no earlier full rehearsal recorded: this run is the first baseline"), ""]
    out.append(tr.sentence(lang))
    from genrep.results.i18n import tr as translate
    for label, items in (("new defect", tr.new_defects), ("fixed defect", tr.fixed_defects),
                         ("still open", tr.still_defects), ("defect not run", tr.unrun_defects)):
        out += [f"- {t(lang, label)}: `{d['key']}` ({t(lang, d['severity'])}) {translate(lang, d['title'])}" for d in items]
    for label, names in (("newly failing", tr.new_failures), ("fixed", tr.fixed),
                         ("still failing", tr.still_failing), ("not run", tr.not_run)):
        out += [f"- {t(lang, label)}: {n}" for n in names[:50]]
        if len(names) > 50:
            out.append(f"  - ... +{len(names) - 50}")
    return out + [""]


def summary_markdown(verdict: Verdict, *, title: str = "genrep dress rehearsal", lang: str = "en") -> str:
    from genrep.results.i18n import t, tr
    d = verdict.to_dict()
    shown = t(lang, verdict.status)
    lines = [f"# {t(lang, title)}: {shown}" + (f" ({verdict.status})" if shown != verdict.status else ""), "",
             f"{shown}: {t(lang, HEADLINE[verdict.status])}.", ""]
    dev = deviation_lines(verdict, lang)
    if dev:  # on the first screen, never under the scroll
        lines += [f"## {t(lang, 'Recorded deviations and the defect register')}", *[f"- {x}" for x in dev], ""]
    if verdict.defect_candidates:
        lines.append(t(lang, "Defects: {sentence}.", sentence=defects_sentence(verdict, lang)))
    s = d["scenarios"]
    lines.append(t(lang, "Scenarios: {total} run, {passed} passed, {failed} failed, {skipped} skipped.", **s))
    untested = verdict.untested
    lines.append(t(lang, "Requirements: {n} in scope, {passed} passed, {failed} failed, {untested} untested.",
                   n=len(verdict.requirements),
                   passed=sum(rs.status == 'passed' for rs in verdict.requirements.values()),
                   failed=sum(rs.status == 'failed' for rs in verdict.requirements.values()), untested=len(untested)))
    if verdict.trend is not None:
        lines.append(t(lang, "Trend: {sentence}.", sentence=verdict.trend.sentence(lang)))
    lines.append("")
    if verdict.failures:
        lines.append("## " + (t(lang, "Why NO-GO") if verdict.status == NO_GO else
                              t(lang, "What blocks a plain GO ({status})", status=shown)))
        lines += [f"- {tr(lang, r)}" for r in verdict.blocking or verdict.failed_requirements]
        if verdict.blocking and verdict.failed_requirements:
            lines.append("- " + t(lang, "{n} requirement(s) failed, under the defects below",
                                  n=len(verdict.failed_requirements)))
        lines.append("")
    if verdict.missing:
        lines.append("## " + (t(lang, "Missing from this run (a GO needs them)") if verdict.failures else
                              t(lang, "Why INCOMPLETE: missing from this run (a GO needs them)")))
        lines += [f"- {tr(lang, g.describe())}" + (f" [{t(lang, 'part')}: {g.part}]" if g.part else "")
                  for g in verdict.missing]
        lines.append("")
    if verdict.waived:
        lines.append("## " + t(lang, "Waived: accepted as partial (--accept-partial {parts}); not a go-live verdict",
                               parts=", ".join(verdict.accepted_partial)))
        lines += [f"- {tr(lang, g.describe())} [{t(lang, 'part')}: {g.part}]" for g in verdict.waived]
        lines.append("")
    if verdict.defect_candidates:
        lines += defects_markdown(verdict, lang=lang)
    if verdict.blocking and verdict.failed_requirements:
        lines.append("## " + t(lang, "Failed requirements"))
        lines += [f"- {tr(lang, r)}" for r in verdict.failed_requirements]
        lines.append("")
    lines += manual_markdown(verdict, lang)
    lines += trend_markdown(verdict, lang)
    if verdict.stale:
        lines.append("## " + t(lang, "Stale manual results (their failures still count)"))
        lines += [f"- {tr(lang, r)}" for r in verdict.stale]
        lines.append("")
    if verdict.notes:
        lines.append("## " + t(lang, "Notes (within the programme's allowance)"))
        lines += [f"- {tr(lang, r)}" for r in verdict.notes]
        lines.append("")
    lines.append("## " + t(lang, "Requirements"))
    lines.append(f"| {t(lang, 'requirement')} | {t(lang, 'severity')} | {t(lang, 'status')} | {t(lang, 'scenarios')} | "
                 f"{t(lang, 'classification of failures')} |")
    lines.append("|---|---|---|---|---|")
    for rid, rs in verdict.requirements.items():
        failed = [s for s in rs.scenarios if s.failed]
        kinds = sorted({k for s in failed for k in s.kinds})
        lines.append(f"| {rid} {rs.requirement.title} | {t(lang, rs.requirement.severity)} | "
                     f"{t(lang, rs.status.upper())} | "
                     f"{len(rs.scenarios) - len(failed)}/{len(rs.scenarios)} | {', '.join(kinds)} |")
    failed = [r for r in verdict.results if r.failed]
    if failed:
        lines += ["", "## " + t(lang, "Failed scenarios")]
        for r in failed:
            first = r.message.strip().splitlines()[:6]
            lines.append(f"### {r.name} ({', '.join(r.requirements)})")
            lines += ["```", *first, "```"]
    return "\n".join(lines) + "\n"
