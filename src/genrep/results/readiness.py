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

from genrep.results.gate import HEADLINE, Verdict, defects_sentence

STATUS_WORD = {"passed": "PASSED", "failed": "FAILED", "untested": "UNTESTED"}


def traceability_csv(verdict: Verdict) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["requirement", "title", "integration", "test_type", "severity", "requirement_status",
                "scenario", "scenario_status", "classification", "defect"])
    defect_of = {id(sc): d for d in verdict.defect_candidates for sc in d.scenarios}
    for rid, rs in verdict.requirements.items():
        req = rs.requirement
        if not rs.scenarios:
            w.writerow([rid, req.title, req.integration, req.test_type, req.severity, "untested", "", "", "", ""])
        for s in rs.scenarios:
            d = defect_of.get(id(s))
            w.writerow([rid, req.title, req.integration, req.test_type, req.severity, rs.status, s.name, s.status,
                        " ".join(s.kinds) if s.failed else "", f"{d.id} {d.key}" if d else ""])
    return out.getvalue()


def _measured(verdict: Verdict) -> list[tuple[str, str]]:
    rows = []
    for r in verdict.results:
        # allure-python stores parameter values as their repr: '1.01' -> 1.01
        p = {k: str(v).strip("'\"") for k, v in r.parameters.items()}
        if "measured failover seconds" in p:
            rows.append((f"Failover time: {r.name}", f"{p['measured failover seconds']} s (objective <= "
                                                     f"{p.get('failover objective seconds', '?')} s) - {r.status}"))
        if "p95 ms" in p:
            rows.append((f"Check latency p95: {r.name}", f"{p['p95 ms']} ms - {r.status}"))
    return rows


def scorecard_html(verdict: Verdict, *, title: str, environment: str, report_link: str = "") -> str:
    e = html.escape
    d = verdict.to_dict()
    status = verdict.status
    css = {"GO": "go", "NO-GO": "nogo", "INCOMPLETE": "incomplete", "PARTIAL GO": "partial"}[status]
    per_integration: dict[str, dict[str, int]] = {}
    for rs in verdict.requirements.values():
        row = per_integration.setdefault(rs.requirement.integration, {"passed": 0, "failed": 0, "untested": 0})
        row[rs.status] += 1
    parts = [f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#111}}
.v{{font-size:2em;font-weight:bold;padding:.4em;border:3px solid}} .go{{border-color:#1a7f37}} .nogo{{border-color:#b42318}}
.incomplete,.partial{{border-color:#b54708;border-style:dashed}}
table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}}</style>
</head><body><h1>{e(title)}</h1>
<p>Environment: {e(environment)}. Generated {e(time.strftime('%Y-%m-%d %H:%M'))}.</p>
<p class="v {css}">Verdict: {e(status)}</p>
<p>{e(status)}: {e(HEADLINE[status])}.</p>
<p>Scenarios: {d['scenarios']['total']} run, {d['scenarios']['passed']} passed, {d['scenarios']['failed']} failed,
{d['scenarios']['skipped']} skipped. Requirements untested: {len(verdict.untested)}.</p>"""]
    if verdict.failures:
        why = list(verdict.blocking or verdict.failed_requirements)
        if verdict.blocking and verdict.failed_requirements:
            why.append(f"{len(verdict.failed_requirements)} requirement(s) failed, under the defects below")
        parts.append("<h2>Why NO-GO</h2><ul>" + "".join(f"<li>{e(r)}</li>" for r in why) + "</ul>")
    if verdict.defect_candidates:
        counted = "defects" if verdict.count == "defects" else "failing scenarios, one by one"
        parts.append(f"<h2>Defects: {e(defects_sentence(verdict))}</h2>"
                     "<p>Failing scenarios clustered by integration, failure kind and signature; each defect has "
                     f"the highest severity of its requirements. The gate counts {counted}.</p>"
                     "<table><tr><th>defect</th><th>severity</th><th>what</th><th>scenarios</th>"
                     "<th>requirements</th></tr>")
        for d in verdict.defect_candidates:
            names = "".join(f"<li>{e(sc.name)} ({e(', '.join(sc.requirements))})</li>" for sc in d.scenarios)
            names += "".join(f"<li>also seen in: {e(sc.name)} ({e(', '.join(sc.requirements))})</li>" for sc in d.also)
            parts.append(f"<tr><td>{e(d.id)}</td><td>{e(d.severity)}</td><td>{e(d.title)}</td>"
                         f"<td><details><summary>{len(d.scenarios)} scenario(s)</summary><ul>{names}</ul>"
                         "</details></td>"
                         f"<td>{e(', '.join(d.requirement_ids()))}</td></tr>")
        parts.append("</table>")
    if verdict.missing:
        parts.append("<h2>Missing from this run (a GO needs them)</h2><ul>" + "".join(
            f"<li>{e(g.describe())}" + (f" <small>[part: {e(g.part)}]</small>" if g.part else "") + "</li>"
            for g in verdict.missing) + "</ul>")
    if verdict.waived:
        parts.append(f"<h2>Waived: accepted as partial (--accept-partial {e(', '.join(verdict.accepted_partial))}); "
                     "not a go-live verdict</h2><ul>" + "".join(
                         f"<li>{e(g.describe())} <small>[part: {e(g.part or '')}]</small></li>" for g in verdict.waived)
                     + "</ul>")
    if verdict.notes:
        parts.append("<h2>Notes (within the programme's allowance)</h2><ul>"
                     + "".join(f"<li>{e(r)}</li>" for r in verdict.notes) + "</ul>")
    parts.append(f"<h2>Open {'defects' if verdict.count == 'defects' else 'failing scenarios'} by test type and "
                 "severity (allowed in brackets)</h2><table>"
                 "<tr><th>test type</th><th>critical</th><th>high</th><th>medium</th><th>low</th></tr>")
    from genrep.config.contracts import SEVERITIES
    types = sorted({rs.requirement.test_type for rs in verdict.requirements.values()})
    for t in types:
        counts = verdict.defects.get(t, {})
        limits = verdict.thresholds.get(t, verdict.thresholds.get("*", {}))
        cells = "".join(f"<td>{counts.get(s, 0)} ({limits.get(s, 0) if limits else '?'})</td>" for s in SEVERITIES)
        parts.append(f"<tr><td>{e(t)}</td>{cells}</tr>")
    parts.append("</table><h2>Requirements verified per integration</h2><table>"
                 "<tr><th>integration</th><th>passed</th><th>failed</th><th>untested</th></tr>")
    for integ, row in sorted(per_integration.items()):
        parts.append(f"<tr><td>{e(integ)}</td><td>{row['passed']}</td><td>{row['failed']}</td><td>{row['untested']}</td></tr>")
    parts.append("</table>")
    measured = _measured(verdict)
    if measured:
        parts.append("<h2>Measured indicators</h2><table>" + "".join(
            f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in measured) + "</table>")
    parts.append("<h2>Requirements</h2><table><tr><th>requirement</th><th>severity</th><th>status</th>"
                 "<th>scenarios passed</th><th>classification of failures</th></tr>")
    for rid, rs in verdict.requirements.items():
        failed = [s for s in rs.scenarios if s.failed]
        kinds = sorted({k for s in failed for k in s.kinds})
        parts.append(f"<tr><td>{e(rid)} {e(rs.requirement.title)}</td><td>{e(rs.requirement.severity)}</td>"
                     f"<td>{STATUS_WORD[rs.status]}</td><td>{len(rs.scenarios) - len(failed)}/{len(rs.scenarios)}</td>"
                     f"<td>{e(', '.join(kinds))}</td></tr>")
    parts.append("</table>")
    if report_link:
        parts.append(f'<p>Full report: <a href="{e(report_link)}">{e(report_link)}</a></p>')
    parts.append("</body></html>")
    return "\n".join(parts)
