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

Where it lives (issue 13): the verdict's types in ``genrep.results.gate_verdict``, the scope check
in ``genrep.results.gate_scope``, the deciding logic (``decide``) in
``genrep.results.gate_decision``; this module holds what a reader sees of a verdict (the headline,
the CI line, the first screen, the Markdown summary with its defects, manual results and trend)
and re-exports every name it always had, so ``from genrep.results.gate import ...`` works as before.
"""

from __future__ import annotations

from collections import Counter

from genrep.config.contracts import SEVERITIES
from genrep.results.gate_decision import DEFAULT_THRESHOLDS, decide
from genrep.results.gate_scope import check_accept_partial, test_type_of
from genrep.results.gate_verdict import (GO, GO_WITH_DEVIATIONS, INCOMPLETE, NO_GO, PARTIAL_GO, VERDICTS, Gap,
                                         RequirementStatus, Verdict)

__all__ = ["DEFAULT_THRESHOLDS", "GO", "GO_WITH_DEVIATIONS", "HEADLINE", "INCOMPLETE", "NO_GO", "PARTIAL_GO",
           "VERDICTS", "Gap", "RequirementStatus", "Verdict", "check_accept_partial", "decide", "defects_markdown",
           "defects_sentence", "deviation_lines", "first_screen", "manual_markdown", "manual_rows",
           "readiness_status", "severity_word", "summary_markdown", "test_type_of", "trend_markdown",
           "verdict_line"]


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
        line += f" (missing: {_gaps_in_line(verdict.missing)})"
    if verdict.waived:
        line += (f" (waived by --accept-partial {', '.join(verdict.accepted_partial)}: "
                 f"{_gaps_in_line(verdict.waived)})")
    return line


#: gaps of one kind the verdict line names; more are counted (a saturated host left 80 load thresholds
#: unjudged: one line of 10,000 characters in a CI log). summary.md and verdict.json name every one.
LINE_GAPS_PER_KIND = 6


def _gaps_in_line(gaps: list[Gap]) -> str:
    shown: list[str] = []
    by_kind: dict[str, list[Gap]] = {}
    for gap in gaps:
        by_kind.setdefault(gap.kind, []).append(gap)
    for kind, of_kind in by_kind.items():
        if len(of_kind) <= LINE_GAPS_PER_KIND:
            shown += [_short(g) for g in of_kind]
        else:
            keep = LINE_GAPS_PER_KIND - 1
            shown += [_short(g) for g in of_kind[:keep]]
            shown.append(f"{len(of_kind) - keep} more of kind '{kind}' (every one in summary.md and verdict.json)")
    return "; ".join(shown)


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
