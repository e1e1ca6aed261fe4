"""JUnit XML of a verdict, for CI test widgets (GitHub and GitLab test reports read it).

Written beside the Allure results (``reports/junit.xml``). The first suite is the verdict itself,
so a widget that shows only failed tests still shows it:

* ``go-live verdict``: one test case for the verdict (failed on NO-GO and INCOMPLETE, skipped with
  the waived parts named on PARTIAL GO, passed on GO only), one per part of the scope the run lacks
  (failed) or waived (skipped), one per defect candidate (failed, its scenarios in the text);
* then one suite per integration with a test case per scenario (failed, broken as an error,
  skipped), its classification and defect in the failure;
* manual results as suites of their own (``manual results: user acceptance test``), the tester, date and
  evidence in each test case's message (blocked, not run and stale ones skipped);
* the load profiles' SLA results as suites of their own (``performance-load: golive_morning``), with
  the profile's users and duration as properties.

Only characters XML 1.0 allows are written (an MLLP frame's control bytes in a message would make
the file unreadable): any other is replaced by U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from genrep.config.contracts import SEVERITIES
from genrep.results.gate import (GO, GO_WITH_DEVIATIONS, NO_GO, PARTIAL_GO, Verdict, defects_sentence,
                                 deviation_lines, verdict_line)
from genrep.results.reader import ScenarioResult

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SIGNATURE = '<testsuites name="genrep'  # how the file starts when genrep wrote it (outputs.check_file)


def xml_text(text: object) -> str:
    """``text`` with every character XML 1.0 does not allow replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(text))


def _case(suite: ET.Element, classname: str, name: str, *, time_s: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=xml_text(classname), name=xml_text(name),
                         time=f"{max(time_s, 0.0):.3f}")


def _outcome(case: ET.Element, tag: str, message: str, text: str = "", type_: str = "") -> None:
    el = ET.SubElement(case, tag, message=xml_text(message[:500]), **({"type": xml_text(type_)} if type_ else {}))
    if text:
        el.text = xml_text(text)


def _suite_of(result: ScenarioResult, verdict: Verdict) -> str:
    if result.load_profile:
        return f"performance-load: {result.load_profile}"
    if result.manual_test_type:
        return f"manual results: {result.manual_test_type}"
    reqs = [verdict.requirements[rid].requirement for rid in result.requirements if rid in verdict.requirements]
    if not reqs:
        return "no requirement"
    return min(reqs, key=lambda r: SEVERITIES.index(r.severity)).integration


def _finish(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")


def junit_xml(verdict: Verdict, *, environment: str = "") -> str:
    root = ET.Element("testsuites", name=f"genrep go-live verdict: {verdict.status}")
    top = ET.SubElement(root, "testsuite", name="go-live verdict")
    valid_deviations = verdict.register.valid if verdict.register is not None else []
    props = ET.SubElement(top, "properties")
    for name, value in (("verdict", verdict.status), ("environment", environment),
                        ("counted", verdict.count), ("accepted_partial", ", ".join(verdict.accepted_partial)),
                        ("deviations", "; ".join(s.describe() for s in valid_deviations))):
        ET.SubElement(props, "property", name=name, value=xml_text(value))

    case = _case(top, "genrep.verdict", verdict_line(verdict))
    reasons = "\n".join(deviation_lines(verdict) + verdict.reasons)
    if verdict.status == GO_WITH_DEVIATIONS:  # never shown as a plain pass: skipped, the deviations named
        _outcome(case, "skipped", verdict_line(verdict))
    elif verdict.status == PARTIAL_GO:
        waived = ", ".join(verdict.accepted_partial)
        _outcome(case, "skipped", f"PARTIAL GO: parts waived by --accept-partial {waived}; not a go-live verdict")
    elif verdict.status != GO:
        first = verdict.blocking[0] if verdict.status == NO_GO and verdict.blocking else (
            verdict.failures[0] if verdict.failures else verdict.missing[0].describe() if verdict.missing else "")
        _outcome(case, "failure", f"{verdict.status}: {first}", reasons, verdict.status)
    for gap in verdict.missing:
        _outcome(_case(top, "genrep.scope", f"{gap.kind} {gap.name}"), "failure", gap.describe(),
                 type_="INCOMPLETE")
    for gap in verdict.waived:
        _outcome(_case(top, "genrep.scope", f"{gap.kind} {gap.name}"), "skipped",
                 f"waived by --accept-partial {gap.part}: {gap.describe()}")
    view = verdict.register
    for st in (view.deviations if view is not None else ()):
        c = _case(top, "genrep.deviations", f"deviation {st.deviation.defect}")
        if st.valid:
            _outcome(c, "skipped", f"recorded deviation: {st.describe()}")
        elif verdict.status == NO_GO:  # it could have covered a blocking defect: a failure, said so
            _outcome(c, "failure", f"counts for nothing: {st.describe()}", type_="deviation")
        else:
            _outcome(c, "skipped", f"counts for nothing: {st.describe()}")
    for d in verdict.defect_candidates:
        scenarios = "\n".join(f"- {sc.name} ({', '.join(sc.requirements)})" for sc in d.scenarios)
        also = "\n".join(f"- also seen in: {sc.name} ({', '.join(sc.requirements)})" for sc in d.also)
        _outcome(_case(top, "genrep.defects", f"{d.id} {d.severity}{d.tracker_note}: {d.title}"), "failure", d.describe(),
                 "\n".join(x for x in (defects_sentence(verdict), scenarios, also) if x), d.severity)
    _finish(top)

    suites: dict[str, list[ScenarioResult]] = defaultdict(list)
    for r in verdict.results:
        suites[_suite_of(r, verdict)].append(r)
    defect_of = {id(sc): d for d in verdict.defect_candidates for sc in d.scenarios}
    for name in sorted(suites, key=lambda n: (n.startswith("performance-load: "), n)):
        suite = ET.SubElement(root, "testsuite", name=xml_text(name))
        first = suites[name][0]
        if first.load_profile:
            props = ET.SubElement(suite, "properties")
            for key in ("users", "duration", "environment"):
                if key in first.parameters:
                    ET.SubElement(props, "property", name=key, value=xml_text(str(first.parameters[key]).strip("'\"")))
        for r in suites[name]:
            case = _case(suite, r.full_name.rsplit(":", 1)[0] if ":" in r.full_name else name, r.name,
                         time_s=(r.stop - r.start) / 1000 if r.stop and r.start else 0.0)
            d = defect_of.get(id(r))
            label = f"{', '.join(r.requirements) or 'no requirement'}" + (f"; defect {d.id}: {d.title}" if d else "")
            if r.manual_test_type:  # who recorded it, and the evidence
                label += (f"; manual {r.manual_test_type} by {r.param('tester')} on {r.param('date')}, "
                          f"evidence {r.param('evidence') or 'none'}")
            if r.failed:
                first_line = next((x for x in r.message.splitlines() if x.strip()), r.status)
                _outcome(case, "failure" if r.status == "failed" else "error", f"{label}: {first_line}", r.message,
                         ", ".join(r.kinds) or r.status)
            elif r.status != "passed":
                _outcome(case, "skipped", f"{label}: " + (r.message.splitlines()[0] if r.manual_test_type and r.message
                                                          else f"{r.status} (verifies nothing)"))
        _finish(suite)
    totals = {k: sum(int(s.get(k, "0")) for s in root.findall("testsuite")) for k in
              ("tests", "failures", "errors", "skipped")}
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
