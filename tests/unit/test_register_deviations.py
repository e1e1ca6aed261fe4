"""Defect register and deviations (issue 15, part 3), trend (part 5), verdict where managers look
(part 6) and Swedish (part 8), on real Allure result files run through ``genrep gate``."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from genrep.cli import main
from genrep.config.contracts import load_catalogue, load_gate
from genrep.errors import ConfigError
from genrep.results import writer
from genrep.results.register import entry_hash, load_register

CATALOGUE = load_catalogue()
SCOPE = load_gate().scope
PROFILES = {lp.name: lp for part in SCOPE.parts for lp in part.load_profiles}
FUNCTIONAL = [r for r in CATALOGUE.values() if r.integration not in ("performance-load", "security")]
PERF = [r for r in CATALOGUE.values() if r.integration == "performance-load"]
#: a high requirement of a test type whose allowance for high is 0 (every one's): one failure is a NO-GO
HIGH = next(r for r in FUNCTIONAL if r.severity == "high" and r.integration == "radiology")
TRUNCATED = ("AssertionError: Report text differs: truncated\n- [truncated/high] Text truncated at character "
             "4000 of 5200: the last 1200 characters (9 lines) are missing")
TODAY = dt.date.today()


def write_run(folder: Path, failing: dict[str, str] | None = None) -> Path:
    """Allure result files of a full rehearsal: every requirement of the catalogue in scope verified
    by one scenario, every load profile of the scope at its minimum size; ``failing``: requirement
    id -> failure message."""
    failing = failing or {}
    results = [writer.Result(key=f"scenario-{r.id}", name=f"scenario of {r.id}",
                             full_name=f"features/{r.integration}.feature:scenario of {r.id}",
                             status="failed" if r.id in failing else "passed", message=failing.get(r.id, ""),
                             requirements=[r]) for r in FUNCTIONAL]
    writer.write(folder, results, writer.Producer("genrep_test", "suite"))
    for name, lp in PROFILES.items():
        writer.write(folder, [writer.Result(
            key=f"{name}-{r.id}", name=f"{r.id} under load ({name})", full_name=f"load/{name}.py:{r.id}",
            status="passed", requirements=[r],
            parameters=[("users", lp.min_users or 10), ("duration", f"{lp.min_duration_s or 30:g} s")])
            for r in PERF], writer.Producer("genrep_load", name))
    return folder


def deviation(defect: str = "EHR-4711", *, date: dt.date = TODAY - dt.timedelta(days=2),
              expires: dt.date = TODAY + dt.timedelta(days=30), signed: bool = True, tamper: bool = False) -> str:
    fields = {"defect": defect, "decided_by": "Anna Lind", "role": "chefläkare, go-live-ansvarig",
              "date": date.isoformat(), "reason": "manual read-back of long reports during the first week",
              "expires": expires.isoformat(), "signed_by": "Anna Lind"}
    sig = entry_hash(fields)
    if tamper:
        fields["expires"] = (expires + dt.timedelta(days=300)).isoformat()
    text = "\n".join(f"    {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items() if k != "signed_by"
                     or signed)
    return "  - " + text.lstrip() + (f"\n    signature: {sig}" if signed else "")


def register_file(tmp_path: Path, deviations: str = "", entries: str | None = None) -> Path:
    entries = entries if entries is not None else textwrap.dedent(f"""\
        - id: EHR-4711
          title: Radiology text cut at about 4,000 bytes
          status: open
          match: {{requirement: [{HIGH.id}], kind: [truncated]}}
        """)
    body = "register: 1\ndefects:\n" + textwrap.indent(entries, "  ")
    if deviations:
        body += "deviations:\n" + deviations + "\n"
    path = tmp_path / "defects.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def gate(results: Path, *extra: str) -> tuple[int, dict, str]:
    code = main(["gate", "--results", str(results), *extra])
    out = results.parent
    return code, json.loads((out / "verdict.json").read_text()), (out / "summary.md").read_text()


@pytest.fixture
def failing_run(tmp_path):
    return write_run(tmp_path / "run" / "allure-results", {HIGH.id: TRUNCATED})


def test_one_open_high_defect_is_no_go_and_new_without_a_deviation(failing_run, tmp_path):
    code, v, md = gate(failing_run, "--register", str(register_file(tmp_path)))
    assert code == 1 and v["verdict"] == "NO-GO"
    d, = v["defects"]["list"]
    assert d["trackers"] == ["EHR-4711"] and d["new"] is False and d["severity"] == "high"
    assert "[EHR-4711]" in md
    # without the register entry the defect is new
    code, v, md = gate(failing_run, "--register", str(register_file(tmp_path, entries=textwrap.dedent("""\
        - id: EHR-1
          title: something else
          status: open
          match: {requirement: [NLL-001]}
        """))))
    assert v["defects"]["list"][0]["new"] is True and "[new]" in md


def test_signed_deviation_turns_the_no_go_into_go_with_recorded_deviations(failing_run, tmp_path, capsys):
    code, v, md = gate(failing_run, "--register", str(register_file(tmp_path, deviation())))
    out = capsys.readouterr().out
    assert code == 5 and v["verdict"] == "GO WITH RECORDED DEVIATIONS"
    # the counts never change: the scenario still failed, the defect is still counted
    assert v["scenarios"]["failed"] == 1 and v["defects"]["by_severity"] == {"high": 1}
    assert any("1 high" in f for f in v["failures"])
    dev, = v["register"]["deviations"]
    assert dev["valid"] and dev["covers"] == ["D1"]
    # listed on the first screen of every output
    line = next(x for x in out.splitlines() if x.startswith("VERDICT:"))
    assert line.startswith("VERDICT: GO WITH RECORDED DEVIATIONS") and "EHR-4711" in line and "Anna Lind" in line
    assert md.index("Recorded deviations") < md.index("## Defects") and "Anna Lind" in md[:1500]
    card = (failing_run.parent / "scorecard.html").read_text()
    assert "Anna Lind" in card[:3000] and "GO WITH RECORDED DEVIATIONS" in card
    junit = ET.parse(failing_run.parent / "junit.xml").getroot()
    first = junit.find("testsuite").find("testcase")
    assert "GO WITH RECORDED DEVIATIONS" in first.get("name") and first.find("skipped") is not None
    assert any("EHR-4711" in c.get("name") for c in junit.iter("testcase"))
    allure = [json.loads(p.read_text()) for p in failing_run.glob("*-result.json")]
    verdict_result, = [a for a in allure if a["name"].startswith("Go-live verdict")]
    assert verdict_result["status"] == "broken" and "EHR-4711" in verdict_result["statusDetails"]["message"]


@pytest.mark.parametrize("kind, why", [
    ("expired", "expired on"), ("unsigned", "unsigned"), ("tampered", "changed after it was signed"),
    ("future", "after today")])
def test_expired_unsigned_or_tampered_deviation_counts_for_nothing_and_says_so(failing_run, tmp_path, kind, why):
    dev = {"expired": deviation(date=TODAY - dt.timedelta(days=40), expires=TODAY - dt.timedelta(days=1)),
           "unsigned": deviation(signed=False), "tampered": deviation(tamper=True),
           "future": deviation(date=TODAY + dt.timedelta(days=2))}[kind]  # 2: still future after a midnight
    code, v, md = gate(failing_run, "--register", str(register_file(tmp_path, dev)))
    assert code == 1 and v["verdict"] == "NO-GO"
    d, = v["register"]["deviations"]
    assert not d["valid"] and why in d["why"]
    assert "COUNTS FOR NOTHING" in md[:2000]
    junit = ET.parse(failing_run.parent / "junit.xml").getroot()
    case = next(c for c in junit.iter("testcase") if c.get("name") == "deviation EHR-4711")
    assert case.find("failure") is not None


def test_a_deviation_for_a_defect_that_did_not_fail_counts_for_nothing(tmp_path):
    clean = write_run(tmp_path / "run" / "allure-results")
    code, v, _ = gate(clean, "--register", str(register_file(tmp_path, deviation())))
    assert code == 0 and v["verdict"] == "GO"
    assert "matches no defect" in v["register"]["deviations"][0]["why"]


def test_deviation_naming_an_unknown_defect_is_refused_with_file_line_key(tmp_path):
    path = register_file(tmp_path, deviation("EHR-9999"))
    with pytest.raises(ConfigError) as info:
        load_register(path)
    assert info.value.file == str(path) and info.value.key == "deviations[0].defect" and info.value.line
    assert "EHR-9999" in str(info.value) and "refused" in str(info.value)


@pytest.mark.parametrize("body, key, line", [
    ("register: 1\ndefects:\n  - id: A-1\n    title: x\n    status: opn\n    match: {kind: [truncated]}\n",
     "defects[0].status", 5),
    ("register: 1\ndefects:\n  - id: A-1\n    title: x\n    status: open\n    match: {}\n", "defects[0].match", 6),
    ("register: 1\ndefects:\n  - id: A-1\n    title: x\n    status: open\n    severity: blocker\n"
     "    match: {kind: [truncated]}\n", "defects[0].severity", 6),
    ("register: 1\ndefects:\n  - id: A-1\n    title: x\n    status: open\n    match: {kind: [truncated]}\n"
     "deviations:\n  - defect: A-1\n    decided_by: X\n    role: Y\n    date: 2025-13-01\n    reason: r\n"
     "    expires: 2026-01-01\n", "deviations[0].date", None),
    ("register: 1\ndefects:\n  - id: A-1\n    title: x\n    status: open\n    match: {kind: [truncated]}\n"
     "deviations:\n  - defect: A-1\n    decided_by: X\n    date: 2025-01-01\n    reason: r\n    expires: 2026-01-01\n",
     "deviations[0].role", None),
])
def test_malformed_register_fails_with_file_line_and_key(tmp_path, body, key, line):
    path = tmp_path / "defects.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_register(path)
    # an invalid YAML date is refused by the YAML loader itself, which names the key's last part
    assert info.value.file == str(path) and (info.value.key == key or key.endswith("." + str(info.value.key)))
    if line:
        assert info.value.line == line


def test_two_entries_matching_one_failure_are_flagged_and_cover_nothing(failing_run, tmp_path):
    entries = textwrap.dedent(f"""\
        - id: EHR-4711
          title: Radiology text cut
          status: open
          match: {{requirement: [{HIGH.id}]}}
        - id: EHR-4712
          title: Same thing, filed twice
          status: open
          match: {{defect: ["radiology:*"]}}
        """)
    code, v, md = gate(failing_run, "--register", str(register_file(tmp_path, deviation(), entries)))
    assert code == 1 and any("matched by 2 register entries" in f for f in v["register"]["flags"])
    assert "ambiguous" in v["register"]["deviations"][0]["why"]


def test_tracker_csv_export_with_a_column_mapping(failing_run, tmp_path):
    (tmp_path / "export.csv").write_text(
        "Issue key,Summary,Priority,Status,genrep match\n"
        f"EHR-4711,Radiology text cut,High,In Progress,requirement={HIGH.id}; kind=truncated\n"
        "EHR-17,Old one,Low,Done,requirement=NLL-001\n", encoding="utf-8")
    path = tmp_path / "defects.yaml"
    path.write_text("register: 1\nimport:\n  file: export.csv\n"
                    "  columns: {id: Issue key, title: Summary, severity: Priority, status: Status, match: genrep match}\n"
                    "  severity_values: {Highest: critical, High: high, Medium: medium, Low: low}\n"
                    "  status_values: {To Do: open, In Progress: open, Done: fixed}\n"
                    "deviations:\n" + deviation() + "\n")
    reg = load_register(path)
    assert [(e.id, e.severity, e.status) for e in reg.entries] == [("EHR-4711", "high", "open"), ("EHR-17", "low", "fixed")]
    code, v, _ = gate(failing_run, "--register", str(path))
    assert code == 5
    (tmp_path / "export.csv").write_text("Issue key,Summary,Priority,Status,genrep match\n"
                                         "EHR-4711,x,High,Open,requirement RAD-001\n")
    with pytest.raises(ConfigError) as info:
        load_register(path)
    assert info.value.file.endswith("export.csv") and info.value.line == 2 and info.value.key == "genrep match"


def test_two_rehearsals_in_a_row_show_the_trend(tmp_path):
    other = next(r for r in FUNCTIONAL if r.integration == "nll" and r.id != HIGH.id)
    first = write_run(tmp_path / "one" / "allure-results", {HIGH.id: TRUNCATED})
    history = tmp_path / "one" / "history"
    code, v, md = gate(first)
    assert v["trend"] is None and "first baseline" in md
    # the second rehearsal: the radiology defect is fixed, an NLL requirement fails (same reports folder)
    second = first
    for f in second.glob("*"):
        f.unlink()
    write_run(second, {other.id: "AssertionError: unavailable: NLL answered 503"})
    code, v, md = gate(second)
    tr = v["trend"]
    assert [d["key"] for d in tr["defects"]["fixed"]] == ["radiology:text-truncation"]
    assert len(tr["defects"]["new"]) == 1 and tr["defects"]["new"][0]["key"].startswith("nll:")
    assert tr["scenarios"]["fixed"] == [f"scenario of {HIGH.id}"]
    assert tr["scenarios"]["newly_failing"] == [f"scenario of {other.id}"]
    assert "Trend since the previous full rehearsal" in md and f"fixed: scenario of {HIGH.id}" in md
    card = (second.parent / "scorecard.html").read_text()
    assert "radiology:text-truncation" in card
    verdict_result = next(json.loads(p.read_text()) for p in second.glob("*-result.json")
                          if json.loads(p.read_text())["name"].startswith("Go-live verdict"))
    assert "trend since the full rehearsal" in verdict_result["statusDetails"]["message"]
    assert len(list((history / "verdicts").glob("*.json"))) == 2
    # a subset run is compared but never becomes the baseline
    for f in second.glob("*"):
        f.unlink()
    writer.write(second, [writer.Result(key="only", name=f"scenario of {HIGH.id}", full_name="x", status="passed",
                                        requirements=[HIGH])], writer.Producer("genrep_test", "suite"))
    code, v, md = gate(second)
    assert code == 4 and v["trend"]["current_full"] is False
    assert len(list((history / "verdicts").glob("*.json"))) == 2


def test_readiness_item_is_red_on_no_go_and_the_verdict_result_fails(failing_run):
    code, v, _ = gate(failing_run)
    allure = {json.loads(p.read_text())["name"]: json.loads(p.read_text()) for p in failing_run.glob("*-result.json")}
    assert allure["Traceability matrix and readiness scorecard"]["status"] == "failed"
    verdict_result = allure["Go-live verdict: NO-GO"]
    assert verdict_result["status"] == "failed"
    assert verdict_result["statusDetails"]["message"].startswith("GO-LIVE VERDICT: NO-GO")
    cats = json.loads((failing_run / "categories.json").read_text()) if (failing_run / "categories.json").exists() else None
    from genrep.results.allure_meta import CATEGORIES
    import re
    assert re.fullmatch(CATEGORIES[0]["messageRegex"], verdict_result["statusDetails"]["message"])


def test_requirement_links_are_absolute(monkeypatch):
    monkeypatch.delenv("GENREP_REQUIREMENT_URL", raising=False)
    for var in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA", "CI_PROJECT_URL", "CI_COMMIT_SHA"):
        monkeypatch.delenv(var, raising=False)
    url = writer.requirement_url("RAD-001")
    assert url.startswith("file:///") and url.endswith("contracts/requirements.yaml#RAD-001")
    monkeypatch.setenv("CI_PROJECT_URL", "https://git.example.se/ehr/genrep")
    monkeypatch.setenv("CI_COMMIT_SHA", "abc123")
    assert writer.requirement_url("RAD-001") == \
        "https://git.example.se/ehr/genrep/-/blob/abc123/contracts/requirements.yaml#RAD-001"
    monkeypatch.setenv("GENREP_REQUIREMENT_URL", "https://req.example.se/{id}")
    assert writer.requirement_url("RAD-001") == "https://req.example.se/RAD-001"


def test_allure_severity_names_critical_as_critical():
    assert writer.ALLURE_SEVERITY["critical"] == "critical" and "blocker" not in writer.ALLURE_SEVERITY.values()


def test_failover_rows_stay_when_the_failover_never_completed():
    from genrep.results.gate import decide
    from genrep.results.reader import ScenarioResult
    from genrep.results.readiness import scorecard_html
    rid = next(r.id for r in CATALOGUE.values() if r.integration == "multum")
    r = ScenarioResult(name="failover when multum-a goes down", full_name="f", status="failed",
                       message="AssertionError: failover_failed: failover time never (objective <= 3.00 s)",
                       requirements=[rid], history_id="x", parameters={"failover objective seconds": "'3.00'"})
    card = scorecard_html(decide([r], CATALOGUE), title="t", environment="e")
    assert "Failover time: failover when multum-a goes down" in card and "not measured" in card
    sv = scorecard_html(decide([r], CATALOGUE), title="genrep go-live readiness", environment="e", lang="sv")
    assert "Failover-tid" in sv and "ej uppmätt" in sv


def test_swedish_summary_and_scorecard(failing_run, tmp_path):
    code, v, md = gate(failing_run, "--lang", "sv", "--register", str(register_file(tmp_path, deviation())))
    assert code == 5 and v["verdict"] == "GO WITH RECORDED DEVIATIONS"  # machine-readable stays English
    assert md.startswith("# genrep generalrepetition: GO MED REGISTRERADE AVVIKELSER")
    assert "Registrerade avvikelser och bristregistret" in md and "| Krav" not in md[:200]
    card = (failing_run.parent / "scorecard.html").read_text()
    assert 'lang="sv"' in card and "Go-live-beslut" in card and "Brister" in card and "EJ TESTAT" not in card[:100]
    for word in ("allvarlighetsgrad", "testtyp", "Verifierade krav per integration"):
        assert word in card


def test_every_fixed_text_of_summary_and_scorecard_has_a_swedish_text():
    import ast
    import inspect
    from genrep.results import gate as gate_mod, i18n, readiness
    used = set()
    for mod in (gate_mod, readiness):
        for node in ast.walk(ast.parse(inspect.getsource(mod))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "t" and len(node.args) >= 2 \
                    and isinstance(node.args[1], ast.Constant):
                used.add(node.args[1].value)
    missing = sorted(u for u in used if u not in i18n.SV)
    assert not missing, missing
    assert set(gate_mod.HEADLINE.values()) <= set(i18n.SV)
