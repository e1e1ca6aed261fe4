"""Readiness outputs for test managers: the traceability matrix and a one-page HTML scorecard.

The matrix answers "which scenarios verify this requirement, and did they pass?" for every
requirement; the scorecard shows the verdict with the measured indicators behind it (defects by
severity against the thresholds, requirements verified per integration, measured failover time and
latency), in words and numbers, not colours alone. Both are static: no script, no outside call.
"""

from __future__ import annotations

import csv
import html
import io
import time

from genrep.results.gate import HEADLINE, NO_GO, Verdict, defects_sentence, deviation_lines

STATUS_WORD = {"passed": "PASSED", "failed": "FAILED", "untested": "UNTESTED"}


def traceability_csv(verdict: Verdict) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["requirement", "title", "integration", "test_type", "severity", "requirement_status",
                "scenario", "scenario_status", "classification", "defect",
                "result_test_type", "tester", "date", "evidence"])  # the last four: a manual result's
    defect_of = {id(sc): d for d in verdict.defect_candidates for sc in d.scenarios}
    for rid, rs in verdict.requirements.items():
        req = rs.requirement
        if not rs.scenarios:
            w.writerow([rid, req.title, req.integration, req.test_type, req.severity, "untested", "", "", "", "",
                        "", "", "", ""])
        for s in rs.scenarios:
            d = defect_of.get(id(s))
            w.writerow([rid, req.title, req.integration, req.test_type, req.severity, rs.status, s.name, s.status,
                        " ".join(s.kinds) if s.failed else "", f"{d.id} {d.key}" if d else "",
                        s.manual_test_type or req.test_type, s.param("tester"), s.param("date") if s.manual_test_type
                        else "", s.param("evidence")])
    return out.getvalue()


def _measured(verdict: Verdict, lang: str = "en") -> list[tuple[str, str, str]]:
    """(indicator, measured value against its objective, status) of each measured indicator. A
    failed measurement stays, with what was measured: a failover that never completed shows "not
    measured" and its failure, never a missing row."""
    from genrep.results.i18n import t
    rows = []
    for r in verdict.results:
        # allure-python stores parameter values as their repr: '1.01' -> 1.01
        p = {k: str(v).strip("'\"") for k, v in r.parameters.items()}
        if "measured failover seconds" in p or "failover objective seconds" in p:
            measured = (f"{p['measured failover seconds']} s" if "measured failover seconds" in p
                        else t(lang, "not measured (the failover never completed)"))
            first = next((x.strip() for x in r.message.splitlines() if x.strip()), "") if r.failed else ""
            rows.append((t(lang, "Failover time: {name}", name=r.name),
                         f"{measured} ({t(lang, 'objective')} <= {p.get('failover objective seconds', '?')} s)"
                         + (f": {first[:200]}" if first else ""), r.status))
        if "p95 ms" in p:
            rows.append((t(lang, "Check latency p95: {name}", name=r.name), f"{p['p95 ms']} ms", r.status))
    return rows


def _link(url: str) -> str:
    """An evidence link as a link when it is a web or file address, else as text."""
    import re
    if re.match(r"(https?|file)://", url, re.I):
        return f'<a href="{html.escape(url)}">{html.escape(url)}</a>'
    return html.escape(url)


def scorecard_html(verdict: Verdict, *, title: str, environment: str, report_link: str = "", lang: str = "en") -> str:
    from genrep.config.contracts import SEVERITIES
    from genrep.results.gate import trend_markdown
    from genrep.results.i18n import t, tr
    e = html.escape
    d = verdict.to_dict()
    status = verdict.status
    shown = t(lang, status) + (f" ({status})" if t(lang, status) != status else "")
    css = {"GO": "go", "NO-GO": "nogo", "INCOMPLETE": "incomplete", "PARTIAL GO": "partial",
           "GO WITH RECORDED DEVIATIONS": "deviations"}[status]
    per_integration: dict[str, dict[str, int]] = {}
    for rs in verdict.requirements.values():
        row = per_integration.setdefault(rs.requirement.integration, {"passed": 0, "failed": 0, "untested": 0})
        row[rs.status] += 1
    parts = [f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(t(lang, title))}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#111}}
.v{{font-size:2em;font-weight:bold;padding:.4em;border:3px solid}} .go{{border-color:#1a7f37}} .nogo{{border-color:#b42318}}
.incomplete,.partial,.deviations{{border-color:#b54708;border-style:dashed}}
table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}}</style>
</head><body><h1>{e(t(lang, title))}</h1>
<!-- genrep go-live readiness -->
<p>{e(t(lang, 'Environment'))}: {e(environment)}. {e(t(lang, 'Generated'))} {e(time.strftime('%Y-%m-%d %H:%M'))}.</p>
<p class="v {css}">{e(t(lang, 'Verdict'))}: {e(shown)}</p>
<p>{e(t(lang, status))}: {e(t(lang, HEADLINE[status]))}.</p>
<p>{e(t(lang, 'Scenarios: {total} run, {passed} passed, {failed} failed, {skipped} skipped.', **d['scenarios']))}
{e(t(lang, 'Requirements untested: {n}.', n=len(verdict.untested)))}</p>"""]
    dev = deviation_lines(verdict, lang)
    if dev:  # first screen
        parts.append(f"<h2>{e(t(lang, 'Recorded deviations and the defect register'))}</h2><ul>"
                     + "".join(f"<li>{e(x)}</li>" for x in dev) + "</ul>")
    if verdict.failures:
        why = list(verdict.blocking or verdict.failed_requirements)
        if verdict.blocking and verdict.failed_requirements:
            why.append(t(lang, "{n} requirement(s) failed, under the defects below", n=len(verdict.failed_requirements)))
        head = t(lang, "Why NO-GO") if status == NO_GO else t(lang, "What blocks a plain GO ({status})", status=t(lang, status))
        parts.append(f"<h2>{e(head)}</h2><ul>" + "".join(f"<li>{e(tr(lang, r))}</li>" for r in why) + "</ul>")
    if verdict.missing:
        parts.append(f"<h2>{e(t(lang, 'Missing from this run (a GO needs them)'))}</h2><ul>" + "".join(
            f"<li>{e(tr(lang, g.describe()))}" + (f" <small>[{e(t(lang, 'part'))}: {e(g.part)}]</small>" if g.part else "")
            + "</li>" for g in verdict.missing) + "</ul>")
    if verdict.waived:
        parts.append("<h2>" + e(t(lang, "Waived: accepted as partial (--accept-partial {parts}); not a go-live verdict",
                                  parts=", ".join(verdict.accepted_partial))) + "</h2><ul>" + "".join(
            f"<li>{e(tr(lang, g.describe()))} <small>[{e(t(lang, 'part'))}: {e(g.part or '')}]</small></li>" for g in verdict.waived)
            + "</ul>")
    if verdict.defect_candidates:
        counted = t(lang, "defects") if verdict.count == "defects" else t(lang, "failing scenarios, one by one")
        parts.append(f"<h2>{e(t(lang, 'Defects: {sentence}', sentence=defects_sentence(verdict, lang)))}</h2>"
                     f"<p>{e(t(lang, 'Failing scenarios clustered by integration, failure kind and signature; each defect has the highest severity of its requirements unless the defect register assesses it otherwise. The gate counts {counted}.', counted=counted))}</p>"
                     f"<table><tr><th>{e(t(lang, 'defect'))}</th><th>{e(t(lang, 'severity'))}</th><th>{e(t(lang, 'what'))}</th>"
                     f"<th>{e(t(lang, 'scenarios'))}</th><th>{e(t(lang, 'requirements'))}</th></tr>")
        for dd in verdict.defect_candidates:
            names = "".join(f"<li>{e(sc.name)} ({e(', '.join(sc.requirements))})</li>" for sc in dd.scenarios)
            names += "".join(f"<li>{e(t(lang, 'also seen in'))}: {e(sc.name)} ({e(', '.join(sc.requirements))})</li>"
                             for sc in dd.also)
            parts.append(f"<tr><td>{e(dd.id)}{e(tr(lang, dd.tracker_note))}</td><td>{e(t(lang, dd.severity))}</td>"
                         f"<td>{e(tr(lang, dd.title))}</td>"
                         f"<td><details><summary>{e(t(lang, '{n} scenario(s)', n=len(dd.scenarios)))}</summary>"
                         f"<ul>{names}</ul></details></td>"
                         f"<td>{e(', '.join(dd.requirement_ids()))}</td></tr>")
        parts.append("</table>")
    measured = _measured(verdict, lang)
    if measured:  # failed indicators stay, with their measured value
        parts.append(f"<h2>{e(t(lang, 'Measured indicators'))}</h2><table><tr><th>{e(t(lang, 'indicator'))}</th>"
                     f"<th>{e(t(lang, 'measured'))}</th><th>{e(t(lang, 'result'))}</th></tr>" + "".join(
                         f"<tr><td>{e(k)}</td><td>{e(v)}</td><td>{e(t(lang, 'PASSED' if st == 'passed' else 'FAILED'))}</td></tr>"
                         for k, v, st in measured) + "</table>")
    from genrep.results.gate import manual_rows
    manual = manual_rows(verdict)
    if manual:
        parts.append(f"<h2>{e(t(lang, 'Manual results'))}</h2><table><tr>" + "".join(
            f"<th>{e(t(lang, h))}</th>" for h in ("test type", "requirement", "result", "tester", "date", "evidence"))
            + "</tr>" + "".join(
            f"<tr><td>{e(t(lang, m['test_type']))}</td><td>{e(m['requirements'])}</td><td>{e(t(lang, m['result']))}</td>"
            f"<td>{e(m['tester'])}</td><td>{e(m['date'])}</td><td>{_link(m['evidence'])}</td></tr>" for m in manual)
            + "</table>")
    if verdict.stale:
        parts.append(f"<h2>{e(t(lang, 'Stale manual results (their failures still count)'))}</h2><ul>"
                     + "".join(f"<li>{e(tr(lang, x))}</li>" for x in verdict.stale) + "</ul>")
    trend = trend_markdown(verdict, lang)
    parts.append(f"<h2>{e(trend[0].lstrip('# '))}</h2><ul>" + "".join(
        f"<li>{e(x.lstrip('- '))}</li>" for x in trend[1:] if x.strip()) + "</ul>")
    if verdict.notes:
        parts.append(f"<h2>{e(t(lang, 'Notes (within the programme' + chr(39) + 's allowance)'))}</h2><ul>"
                     + "".join(f"<li>{e(tr(lang, r))}</li>" for r in verdict.notes) + "</ul>")
    what = t(lang, "defects") if verdict.count == "defects" else t(lang, "failing scenarios")
    parts.append(f"<h2>{e(t(lang, 'Open {what} by test type and severity (allowed in brackets)', what=what))}</h2><table>"
                 f"<tr><th>{e(t(lang, 'test type'))}</th>" + "".join(f"<th>{e(t(lang, sv))}</th>" for sv in SEVERITIES)
                 + "</tr>")
    types = sorted({rs.requirement.test_type for rs in verdict.requirements.values()} | set(verdict.defects)
                   | {r.manual_test_type for r in verdict.results if r.manual_test_type})
    for tt in types:
        counts = verdict.defects.get(tt, {})
        limits = verdict.thresholds.get(tt, verdict.thresholds.get("*", {}))
        cells = "".join(f"<td>{counts.get(sv, 0)} ({limits.get(sv, 0) if limits else '?'})</td>" for sv in SEVERITIES)
        parts.append(f"<tr><td>{e(t(lang, tt))}</td>{cells}</tr>")
    parts.append(f"</table><h2>{e(t(lang, 'Requirements verified per integration'))}</h2><table>"
                 f"<tr><th>{e(t(lang, 'integration'))}</th><th>{e(t(lang, 'passed'))}</th><th>{e(t(lang, 'failed'))}</th>"
                 f"<th>{e(t(lang, 'untested'))}</th></tr>")
    for integ, row in sorted(per_integration.items()):
        parts.append(f"<tr><td>{e(integ)}</td><td>{row['passed']}</td><td>{row['failed']}</td><td>{row['untested']}</td></tr>")
    parts.append("</table>")
    parts.append(f"<h2>{e(t(lang, 'Requirements'))}</h2><table><tr><th>{e(t(lang, 'requirement'))}</th>"
                 f"<th>{e(t(lang, 'severity'))}</th><th>{e(t(lang, 'status'))}</th>"
                 f"<th>{e(t(lang, 'scenarios passed'))}</th><th>{e(t(lang, 'classification of failures'))}</th></tr>")
    for rid, rs in verdict.requirements.items():
        failed = [sc for sc in rs.scenarios if sc.failed]
        kinds = sorted({k for sc in failed for k in sc.kinds})
        parts.append(f"<tr><td>{e(rid)} {e(rs.requirement.title)}</td><td>{e(t(lang, rs.requirement.severity))}</td>"
                     f"<td>{e(t(lang, STATUS_WORD[rs.status]))}</td><td>{len(rs.scenarios) - len(failed)}/{len(rs.scenarios)}</td>"
                     f"<td>{e(', '.join(kinds))}</td></tr>")
    parts.append("</table>")
    if report_link:
        parts.append(f'<p>{e(t(lang, "Full report"))}: <a href="{e(report_link)}">{e(report_link)}</a></p>')
    parts.append("</body></html>")
    return "\n".join(parts)
