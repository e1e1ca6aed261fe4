"""Go/no-go verdict from Allure result files (genrep.results.reader + genrep.results.gate)."""

from __future__ import annotations

import json
import uuid

import pytest

from genrep.config.contracts import Requirement, load_catalogue
from genrep.errors import ConfigError
from genrep.results.gate import DEFAULT_THRESHOLDS, decide, summary_markdown
from genrep.results.reader import ScenarioResult, read_results


def req(rid, severity="critical", integration="radiology", test_type="interface test", negative=False):
    return Requirement(id=rid, title=f"title of {rid}", integration=integration, test_type=test_type,
                       severity=severity, negative=negative, criterion="c", source="")


CATALOGUE = {r.id: r for r in (
    req("RAD-001", "critical"),
    req("RAD-R01", "high", negative=True),
    req("RAD-R02", "medium", negative=True),
    req("NLL-001", "critical", integration="nll", negative=True),
)}


def write_result(folder, name, status="passed", reqs=(), tags=(), message=None, trace=None, **extra):
    data = {
        "name": name, "fullName": f"features/radiology.feature:{name}", "status": status,
        "historyId": uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
        "labels": [{"name": "requirement", "value": r} for r in reqs]
                  + [{"name": "tag", "value": t} for t in tags] + [{"name": "feature", "value": "Radiology"}],
        "start": 1, "stop": 2,
    }
    if message is not None or trace is not None:
        data["statusDetails"] = {"message": message, "trace": trace}
    data.update(extra)
    (folder / f"{uuid.uuid4()}-result.json").write_text(json.dumps(data), encoding="utf-8")
    return data


@pytest.fixture
def results_dir(tmp_path):
    folder = tmp_path / "allure-results"
    folder.mkdir()
    # some files Allure writes besides results: must be ignored
    (folder / f"{uuid.uuid4()}-container.json").write_text('{"children": []}', encoding="utf-8")
    (folder / f"{uuid.uuid4()}-attachment.txt").write_text("text", encoding="utf-8")
    return folder


def all_radiology_passing(folder):
    write_result(folder, "stored as sent", reqs=["RAD-001"], tags=["radiology"])
    write_result(folder, "long report", reqs=["RAD-R01"], tags=["negative"])
    write_result(folder, "many lines", reqs=["RAD-R02"])


def verdict_of(folder, catalogue=CATALOGUE, **kw):
    return decide(read_results(folder), catalogue, **kw)


# -- read_results -----------------------------------------------------------------------------------

def test_read_results_fields(results_dir):
    write_result(results_dir, "s1", status="failed", reqs=["RAD-001", "RAD-R01"], tags=["happy"],
                 message="AssertionError: not_stored: AA but nothing", trace="Traceback ...",
                 parameters=[{"name": "convention", "value": "ft-br"}])
    (r,) = read_results(results_dir)
    assert r.name == "s1" and r.full_name.endswith(":s1") and r.status == "failed" and r.failed
    assert r.requirements == ["RAD-001", "RAD-R01"] and r.tags == ["happy"]
    assert r.message.startswith("AssertionError: not_stored") and "Traceback" not in r.message
    assert "Traceback" in r.trace  # kept for classification, never shown as the failure text
    assert r.parameters == {"convention": "ft-br"} and r.history_id


def test_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as info:
        read_results(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_empty_folder(tmp_path):
    with pytest.raises(ConfigError, match="no Allure result files"):
        read_results(tmp_path)


def test_folder_of_other_json(tmp_path):
    (tmp_path / "report.json").write_text('{"status": "passed", "name": "x"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="no Allure result files"):
        read_results(tmp_path)


@pytest.mark.parametrize("content", [
    '{"tests": 3, "failures": 0}',
    '[1, 2, 3]',
    '{"name": "x"',
    '{"name": "x", "status": "passed", "labels": "requirement=RAD-001"}',
    '{"name": "x", "status": "passed", "labels": [{"name": "requirement"}]}',
    '{"name": "x", "status": "passed", "labels": ["RAD-001"]}',
    '{"name": "x", "status": "failed", "statusDetails": "boom"}',
    '{"name": "x", "status": 1}',
])
def test_non_allure_json_refused(tmp_path, content):
    f = tmp_path / "abc-result.json"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_results(tmp_path)
    assert str(f) in str(info.value)


def test_non_utf8_result_refused(tmp_path):
    (tmp_path / "abc-result.json").write_bytes(b'{"name": "\xe5", "status": "passed"}')
    with pytest.raises(ConfigError):
        read_results(tmp_path)


# -- ScenarioResult.kinds -----------------------------------------------------------------------------

def sr(message, status="failed"):
    return ScenarioResult(name="s", full_name="s", status=status, message=message, requirements=[],
                          history_id="h")


@pytest.mark.parametrize("message, kinds", [
    ("AssertionError: Report text differs: truncated\n- [truncated/high] cut at 4000 bytes\n"
     "- [lost_negation/critical] ingen", ["truncated", "lost_negation"]),
    ("AssertionError: not_stored: AA received, but nothing readable", ["not_stored"]),
    ("not_stored: AA received", ["not_stored"]),
    ("[mojibake/medium] x\n[mojibake/medium] y", ["mojibake"]),
    ("ConnectionRefused: nothing listening", ["error"]),
    ("AssertionError: assert 1 == 2", []),
])
def test_kinds(message, kinds):
    assert sr(message).kinds == kinds


def test_kinds_of_passed_scenario_empty():
    assert sr("", status="passed").kinds == []


# -- decide ------------------------------------------------------------------------------------------

def test_all_passed_and_covered_is_go(results_dir):
    all_radiology_passing(results_dir)
    v = verdict_of(results_dir)
    assert v.go and v.reasons == []
    assert set(v.requirements) == {"RAD-001", "RAD-R01", "RAD-R02"}  # nll was not exercised
    assert all(rs.status == "passed" for rs in v.requirements.values())
    d = v.to_dict()
    assert d["verdict"] == "GO" and d["scenarios"] == {"total": 3, "passed": 3, "failed": 0, "skipped": 0}
    md = summary_markdown(v)
    assert md.startswith("# genrep dress rehearsal: GO") and "RAD-001" in md


def test_one_failed_critical_is_no_go(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "stored as sent, 8859/1", status="failed", reqs=["RAD-001"],
                 message="AssertionError: Report text differs: truncated\n- [truncated/high] cut")
    v = verdict_of(results_dir)
    assert not v.go and v.status == "NO-GO"
    assert any("RAD-001" in r and "critical" in r and "failed" in r for r in v.reasons)
    assert v.defects["interface test"]["critical"] == 1
    assert v.requirements["RAD-001"].status == "failed"
    md = summary_markdown(v)
    assert "NO-GO" in md and "## Why NO-GO" in md and "RAD-001" in md and "truncated" in md
    assert "stored as sent, 8859/1" in md


def test_broken_counts_as_failed(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "broken", status="broken", reqs=["RAD-R01"], message="ReadTimeout: x")
    v = verdict_of(results_dir)
    assert not v.go and v.requirements["RAD-R01"].status == "failed"


def test_untested_requirement_is_never_go(results_dir):
    """Nothing failed, but a requirement was not verified: INCOMPLETE (exit 4), not GO, not NO-GO."""
    write_result(results_dir, "stored as sent", reqs=["RAD-001"])
    write_result(results_dir, "long report", reqs=["RAD-R01"])
    v = verdict_of(results_dir)
    assert not v.go and v.status == "INCOMPLETE" and not v.failures
    assert [(g.kind, g.name) for g in v.missing] == [("requirement", "RAD-R02")]
    assert any("RAD-R02" in r and "untested" in r for r in v.reasons)
    assert not any("NLL-001" in r for r in v.reasons)


def test_explicit_integrations_demand_coverage(results_dir):
    all_radiology_passing(results_dir)
    v = verdict_of(results_dir, integrations={"radiology", "nll"})
    assert not v.go and any("NLL-001" in r and "untested" in r for r in v.reasons)


def test_result_outside_selected_integrations_does_not_crash(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "nll", reqs=["NLL-001"])
    v = verdict_of(results_dir, integrations={"radiology"})
    assert v.go and v.requirements["NLL-001"].status == "passed"


def test_skipped_scenario_is_not_go(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "skipped one", status="skipped", reqs=["RAD-R02"])
    v = verdict_of(results_dir)
    assert not v.go and any("skipped one" in r for r in v.reasons)


def test_only_skipped_scenarios_leave_requirement_untested(results_dir):
    write_result(results_dir, "stored as sent", reqs=["RAD-001"])
    write_result(results_dir, "long report", reqs=["RAD-R01"])
    write_result(results_dir, "many lines", status="skipped", reqs=["RAD-R02"])
    v = verdict_of(results_dir)
    assert v.requirements["RAD-R02"].status == "untested"
    assert any("RAD-R02" in r and "untested" in r for r in v.reasons)


def test_unknown_status_is_not_go(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "odd", status="unknown", reqs=["RAD-001"])
    assert not verdict_of(results_dir).go


def test_unknown_requirement_id_is_no_go(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "typo", reqs=["RAD-0001"])
    v = verdict_of(results_dir)
    assert not v.go and v.unknown_tags == ["RAD-0001"] and any("RAD-0001" in r for r in v.reasons)


def test_untagged_scenario_is_no_go(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "tagless")
    v = verdict_of(results_dir)
    assert not v.go and any("tagless" in r for r in v.reasons)


def test_no_results_is_no_go():
    v = decide([], CATALOGUE)
    assert not v.go and any("no scenario results" in r for r in v.reasons)


def test_no_negative_path_is_never_go(results_dir):
    cat = {"RAD-001": req("RAD-001")}
    write_result(results_dir, "stored as sent", reqs=["RAD-001"])
    v = verdict_of(results_dir, catalogue=cat)
    assert not v.go and v.status == "INCOMPLETE" and any("negative-path" in r for r in v.reasons)
    assert [(g.kind, g.name) for g in v.missing] == [("negative path", "radiology")]


def test_worst_severity_counts_for_multi_requirement_scenario(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "both", status="failed", reqs=["RAD-R02", "RAD-001"], message="x")
    v = verdict_of(results_dir)
    assert dict(v.defects["interface test"]) == {"critical": 1}


# -- thresholds: functional tests of requirements ---------------------------------------------------

FT = "functional test of requirements"
FUNC_CATALOGUE = {r.id: r for r in (
    [req(f"FUN-{i:03d}", "medium", integration="orders", test_type=FT) for i in range(25)]
    + [req("FUN-LOW", "low", integration="orders", test_type=FT),
       req("FUN-HIGH", "high", integration="orders", test_type=FT),
       req("FUN-NEG", "critical", integration="orders", test_type=FT, negative=True)])}


def functional_results(failed_medium: int, *, failed_high=False) -> list[ScenarioResult]:
    out = []
    for rid in FUNC_CATALOGUE:
        failed = (rid.startswith("FUN-0") and int(rid[4:]) < failed_medium) or (failed_high and rid == "FUN-HIGH")
        out.append(ScenarioResult(name=f"scenario {rid}", full_name=rid, status="failed" if failed else "passed",
                                  message="AssertionError: x" if failed else "", requirements=[rid],
                                  history_id=rid))
    return out


@pytest.mark.parametrize("failed, go", [(0, True), (1, True), (20, True), (21, False), (25, False)])
def test_functional_medium_allowance(failed, go):
    v = decide(functional_results(failed), FUNC_CATALOGUE)
    assert v.go is go, v.reasons
    assert v.defects.get(FT, {}).get("medium", 0) == failed
    if failed and go:  # tolerated failures are still reported, as notes
        assert any("FUN-000" in r and "within the allowance" in r for r in v.reasons)
        assert "## Notes" in summary_markdown(v)
    if not go:
        assert any(f"{failed} medium defect(s), allowed 20" in r for r in v.reasons)


def test_functional_high_is_never_allowed():
    v = decide(functional_results(0, failed_high=True), FUNC_CATALOGUE)
    assert not v.go and any("FUN-HIGH" in r for r in v.reasons)


def test_interface_test_medium_not_allowed(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "many lines again", status="failed", reqs=["RAD-R02"], message="x")
    v = verdict_of(results_dir)
    assert not v.go and any("interface test: 1 medium defect(s), allowed 0" in r for r in v.reasons)


def test_custom_thresholds_without_default_entry(results_dir):
    all_radiology_passing(results_dir)
    write_result(results_dir, "many lines again", status="failed", reqs=["RAD-R02"], message="x")
    rs = read_results(results_dir)
    assert decide(rs, CATALOGUE, thresholds={"interface test": {"medium": 1}}).go
    assert not decide(rs, CATALOGUE, thresholds={FT: {"medium": 5}}).go  # falls back to zero
    assert DEFAULT_THRESHOLDS[FT] == {"critical": 0, "high": 0, "medium": 20, "low": 100}


def test_shipped_catalogue_requirements_all_untested_without_results():
    cat = load_catalogue()
    rid = next(iter(cat))
    r = ScenarioResult(name="one", full_name="one", status="passed", message="", requirements=[rid],
                       history_id="1")
    v = decide([r], cat)
    others = [x for x, q in cat.items() if q.integration == cat[rid].integration and x != rid]
    assert not v.go and all(any(x in reason for reason in v.reasons) for x in others)
