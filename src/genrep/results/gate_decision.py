"""The deciding logic of the gate: ``decide`` turns results, the requirement catalogue, the
thresholds, the scope and the defect register into a ``Verdict`` (the rule: ``genrep.results.gate``'s
docstring), with what it needs alone: the programme's default thresholds, the age check of manual
results, an outage's own words, a result's most severe requirement.

Its own module because it is the one place the go/no-go rule is applied: it counts defects against
the thresholds, collects the scope's gaps (``genrep.results.gate_scope``) and picks the verdict
word; the types it fills live in ``genrep.results.gate_verdict`` and the words a reader sees in
``genrep.results.gate``. ``decide`` and ``DEFAULT_THRESHOLDS`` are importable from
``genrep.results.gate`` as before (issue 13).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from genrep.config.contracts import COUNTS, SEVERITIES, Requirement, Scope
from genrep.results.defects import cluster
from genrep.results.gate_scope import check_accept_partial, manual_gaps, scope_gaps, test_type_of
from genrep.results.gate_verdict import (GO, GO_WITH_DEVIATIONS, INCOMPLETE, NO_GO, PARTIAL_GO, Gap,
                                         RequirementStatus, Verdict)
from genrep.results.reader import ScenarioResult

DEFAULT_THRESHOLDS: dict[str, dict[str, int]] = {
    "functional test of requirements": {"critical": 0, "high": 0, "medium": 20, "low": 100},
    "*": {"critical": 0, "high": 0, "medium": 0, "low": 0},
}


#: failure kinds that verified nothing and are no product defect (never GO), and how a gap says so
INCONCLUSIVE_KINDS = {"load_inconclusive": "load figures inconclusive",
                      "timing_unconfirmed": "timing not confirmed"}


def _inconclusive_kind(result: ScenarioResult) -> str:
    """The inconclusive kind a result's failure is, or "". A load result is inconclusive when it
    says so (its figures measure the host, whatever they missed); a timing not confirmed only when
    it is all the failure says: a defect named beside it is still a defect."""
    kinds = result.kinds
    if "load_inconclusive" in kinds:
        return "load_inconclusive"
    if kinds and all(k == "timing_unconfirmed" for k in kinds):
        return "timing_unconfirmed"
    return ""


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
    # (load_inconclusive), or a time bound the harness saw missed that the system's own timestamps
    # say was met (timing_unconfirmed): not verified (never GO), never a product defect; they ran
    inconclusive_kind = {id(r): kind for r in results if r.failed and (kind := _inconclusive_kind(r))}
    inconclusive = [r for r in results if id(r) in inconclusive_kind]
    results = [r for r in results if id(r) not in inconclusive_kind]
    failures: list[str] = []  # each one makes it NO-GO
    notes: list[str] = []  # reported, but within the programme's allowance
    results, stale_notes = _judge_age(results, today, manual_max_age_days)

    def limits_for(test_type: str) -> dict[str, int]:
        return thresholds.get(test_type, thresholds.get("*", DEFAULT_THRESHOLDS["*"]))

    unknown = sorted({rid for r in results for rid in r.requirements if rid not in catalogue})
    if unknown:
        failures.append(f"scenarios tagged with unknown requirement ids: {', '.join(unknown)}")
    if not results and not unavailable and not inconclusive:  # those ran: gaps below, not "nothing ran"
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
            continue  # blocked, not run or stale: a gap (manual_gaps), not a failure
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
    gaps = scope_gaps(results + inconclusive, catalogue, scope, statuses) if scope is not None else []
    gaps += manual_gaps(results, scope)
    gaps += [Gap("scenario", r.name, "verified nothing, environment unavailable (" + _unavailable_reason(r) + ")") for r in unavailable]
    gaps += [Gap("scenario", r.name, f"verified nothing, {INCONCLUSIVE_KINDS[kind]} ("
                 + (r.message.splitlines() or [""])[0].removeprefix(f"{kind}: ")[:240] + ")")
             for r in inconclusive for kind in (inconclusive_kind[id(r)],)]
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
