"""JUnit XML for CI widgets (issue 15, part 7): the verdict first (failed unless GO), missing and
waived parts of the scope, defects, every scenario and the load SLA results; always well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.config.contracts import load_catalogue, load_gate
from genrep.results.gate import decide
from genrep.results.junit import SIGNATURE, junit_xml, xml_text
from genrep.results.reader import ScenarioResult

CATALOGUE = load_catalogue()
RULES = load_gate()


def result(name, rids, status="passed", message="", **kw) -> ScenarioResult:
    return ScenarioResult(name=name, full_name=f"features/x.feature:{name}", status=status, message=message,
                          requirements=rids, history_id=name, start=1000, stop=3500, **kw)


def judge(results, **kw):
    return decide(results, CATALOGUE, RULES.thresholds, scope=RULES.scope, count=RULES.count, **kw)


def parse(text: str) -> ET.Element:
    assert SIGNATURE in text[:200]
    return ET.fromstring(text.encode("utf-8"))


#: every load profile of the shipped scope at its size (contracts/gate.yaml)
PROFILES = {"golive_morning": (60, 6000), "failover_under_load": (30, 6000), "nll_outage_under_load": (30, 6000),
            "radiology_restart_under_load": (30, 6000), "soak": (30, 20)}


def complete() -> list[ScenarioResult]:
    out = [result(f"scenario {rid}", [rid]) for rid, r in CATALOGUE.items()
           if r.integration not in ("performance-load", "security")]
    for profile, (duration, users) in PROFILES.items():
        out += [result(f"{rid} under load ({profile})", [rid], parameters={"users": str(users),
                                                                           "duration": f"{duration} s"},
                       labels=[("genrep_load", profile)])
                for rid, r in CATALOGUE.items() if r.integration == "performance-load"]
    return out


def verdict_case(root):
    suite = root.find("testsuite")
    assert suite.get("name") == "go-live verdict"
    return suite, suite.find("testcase")


def test_go_passes_and_every_result_is_a_test_case():
    v = judge(complete())
    assert v.status == "GO", v.reasons
    root = parse(junit_xml(v, environment="virtual"))
    suite, case = verdict_case(root)
    assert case.get("name") == "VERDICT: GO" and list(case) == []
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names[0] == "go-live verdict" and "radiology" in names and "performance-load: golive_morning" in names
    assert int(root.get("tests")) == len(v.results) + 1 and root.get("failures") == "0"
    load = next(s for s in root.findall("testsuite") if s.get("name") == "performance-load: golive_morning")
    props = {p.get("name"): p.get("value") for p in load.find("properties")}
    assert props == {"users": "6000", "duration": "60 s"}
    assert float(root.find("testsuite[@name='radiology']/testcase").get("time")) == 2.5


def test_incomplete_fails_the_verdict_and_names_each_missing_part():
    v = judge([r for r in complete() if not r.load_profile])
    root = parse(junit_xml(v))
    _, case = verdict_case(root)
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "INCOMPLETE"
    scope = [c for c in root.iter("testcase") if c.get("classname") == "genrep.scope"]
    assert {c.get("name") for c in scope} == {"integration performance-load"} | {f"load profile {p}" for p in PROFILES}
    assert all(c.find("failure").get("type") == "INCOMPLETE" for c in scope)


def test_partial_go_is_skipped_never_passed_and_waived_parts_are_named():
    v = judge([r for r in complete() if not r.load_profile], accept_partial=["performance"])
    root = parse(junit_xml(v))
    _, case = verdict_case(root)
    assert case.find("skipped") is not None and "--accept-partial performance" in case.find("skipped").get("message")
    waived = [c for c in root.iter("testcase") if c.get("classname") == "genrep.scope"]
    assert len(waived) == 1 + len(PROFILES) and all(c.find("skipped") is not None for c in waived)


def test_no_go_lists_defects_and_failed_scenarios_with_their_defect():
    results = complete()
    msg = ("AssertionError: Report text differs: truncated\n- [truncated/high] Text truncated at character 10 of 99\n"
           "\x0bMSH|^~\\&|\x1c\r")  # MLLP control bytes must not break the XML
    results[0] = result(results[0].name, results[0].requirements, "failed", msg)
    results[1] = result(results[1].name, results[1].requirements, "broken", "ReadTimeout: no answer")
    results[2] = result(results[2].name, results[2].requirements, "skipped")
    v = judge(results)
    root = parse(junit_xml(v))
    _, case = verdict_case(root)
    assert case.find("failure").get("type") == "NO-GO"
    defects = [c for c in root.iter("testcase") if c.get("classname") == "genrep.defects"]
    assert len(defects) == len(v.defect_candidates) >= 2
    failed = next(c for c in root.iter("testcase") if c.get("name") == results[0].name)
    assert failed.find("failure").get("type") == "truncated" and "defect D" in failed.find("failure").get("message")
    assert "\ufffdMSH" in failed.find("failure").text
    assert next(c for c in root.iter("testcase") if c.get("name") == results[1].name).find("error") is not None
    assert next(c for c in root.iter("testcase") if c.get("name") == results[2].name).find("skipped") is not None
    assert int(root.get("errors")) == 1 and int(root.get("skipped")) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.sampled_from(["passed", "failed", "broken", "skipped"]),
                          st.text(max_size=200)), max_size=8))
def test_any_names_and_messages_give_well_formed_xml(items):
    results = [result(name or "s", ["RAD-001"], status, message if status != "passed" else "")
               for name, status, message in items]
    v = decide(results, CATALOGUE, count="defects")
    root = parse(junit_xml(v, environment="\x00odd\ud800"))
    names = [c.get("name") for c in root.iter("testcase") if c.get("classname", "").startswith("features/")]
    assert names == [xml_text(r.name) for r in results]


def test_gate_writes_junit_beside_the_results_and_never_overwrites_a_foreign_one(tmp_path, capsys):
    import json

    from genrep.cli import main
    results_dir = tmp_path / "out" / "allure-results"
    results_dir.mkdir(parents=True)
    for i, r in enumerate(complete()):
        (results_dir / f"{i:04d}-result.json").write_text(json.dumps({
            "name": r.name, "status": r.status, "fullName": r.full_name,
            "labels": [{"name": "requirement", "value": rid} for rid in r.requirements]
            + [{"name": n, "value": v} for n, v in r.labels],
            "parameters": [{"name": k, "value": v} for k, v in r.parameters.items()]}), encoding="utf-8")
    assert main(["gate", "--results", str(results_dir)]) == 0
    assert "JUnit XML:" in capsys.readouterr().out
    _, case = verdict_case(parse((tmp_path / "out" / "junit.xml").read_text(encoding="utf-8")))
    assert case.get("name") == "VERDICT: GO"
    # a junit.xml genrep did not write, beside a --results folder outside genrep's own: refused, untouched
    foreign_dir = tmp_path / "mine"
    (foreign_dir / "allure-results").mkdir(parents=True)
    for f in results_dir.glob("*-result.json"):
        (foreign_dir / "allure-results" / f.name).write_bytes(f.read_bytes())
    (foreign_dir / "junit.xml").write_text("<testsuites name='other tool'/>", encoding="utf-8")
    assert main(["gate", "--results", str(foreign_dir / "allure-results")]) == 2
    assert "junit.xml" in capsys.readouterr().err
    assert (foreign_dir / "junit.xml").read_text(encoding="utf-8") == "<testsuites name='other tool'/>"
