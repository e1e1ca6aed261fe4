"""Manual test results (issue 15, part 4): imported from real CSV files, judged by the same verdict,
shown in every output; bad input refused with file, line and column."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from genrep.cli import main
from genrep.config.contracts import MANUAL_TEST_TYPES, load_gate
from genrep.errors import ConfigError
from genrep.paths import PROJECT_ROOT
from genrep.results import csvmap
from genrep.results.manual import load_manual
from genrep.results.reader import read_results
from test_register_deviations import CATALOGUE, HIGH, TRUNCATED, write_run

TODAY = dt.date.today()
FIXTURES = PROJECT_ROOT / "fixtures" / "manual"
HEADER = "requirement,test_type,result,tester,date,evidence,comment\n"
CRITICAL = CATALOGUE["RAD-001"]
assert CRITICAL.severity == "critical"


def manual_csv(tmp_path: Path, *rows: str, name: str = "manual.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def row(rid="RAD-001", test_type="user acceptance test", result="passed", tester="Anna Berg",
        date: dt.date | str = TODAY - dt.timedelta(days=3), evidence="https://tests.example.org/UAT/1", comment=""):
    day = date.isoformat() if isinstance(date, dt.date) else date
    return f"{rid},{test_type},{result},{tester},{day},{evidence},{comment}"


def gate(results: Path, *extra: str) -> tuple[int, dict, str]:
    code = main(["gate", "--results", str(results), *extra])
    out = results.parent
    return code, json.loads((out / "verdict.json").read_text()), (out / "summary.md").read_text()


@pytest.fixture
def clean_run(tmp_path):
    return write_run(tmp_path / "run" / "allure-results")


def test_the_default_scope_needs_no_manual_results_so_a_clean_run_stays_go(clean_run):
    assert not any(t in MANUAL_TEST_TYPES for p in load_gate().scope.parts for t in p.test_types)
    code, v, _ = gate(clean_run)
    assert code == 0 and v["verdict"] == "GO"


def test_passed_manual_results_join_a_go_and_show_in_every_output(clean_run, tmp_path):
    path = manual_csv(tmp_path, row(), row("REG-001", "peripherals test", tester="Karin Ek"))
    code, v, md = gate(clean_run, "--manual", str(path))
    assert code == 0 and v["verdict"] == "GO"
    assert v["manual"] == {"results": 2, "by_test_type": {"user acceptance test": 1, "peripherals test": 1}}
    assert "## Manual results" in md and "| user acceptance test | RAD-001 | Passed | Anna Berg |" in md
    out = clean_run.parent
    rows = [r for r in csv.DictReader(io.StringIO((out / "traceability.csv").read_text())) if r["tester"]]
    assert {(r["requirement"], r["result_test_type"], r["tester"]) for r in rows} == {
        ("RAD-001", "user acceptance test", "Anna Berg"), ("REG-001", "peripherals test", "Karin Ek")}
    assert "Manual results" in (out / "scorecard.html").read_text()
    junit = ET.parse(out / "junit.xml").getroot()
    suite = next(s for s in junit.iter("testsuite") if s.get("name") == "manual results: user acceptance test")
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    # the Allure result: written through results/writer.py, labelled manual with the tester, evidence linked
    allure = [json.loads(f.read_text()) for f in clean_run.glob("*-result.json")]
    uat = next(a for a in allure if any(lb == {"name": "genrep_manual", "value": "user acceptance test"}
                                        for lb in a["labels"]))
    labels = {(lb["name"], lb["value"]) for lb in uat["labels"]}
    assert {("owner", "Anna Berg"), ("tag", "manual"), ("requirement", "RAD-001")} <= labels
    assert {"name": "evidence", "url": "https://tests.example.org/UAT/1", "type": "link"} in uat["links"]


def test_a_failed_manual_result_of_a_critical_requirement_is_no_go_naming_tester_and_evidence(clean_run, tmp_path):
    path = manual_csv(tmp_path, row(result="failed", tester="Åsa Lindqvist",
                                    evidence="https://tests.example.org/UAT/RAD-001-run2", comment="table cut"))
    code, v, md = gate(clean_run, "--manual", str(path))
    assert code == 1 and v["verdict"] == "NO-GO"
    (d,) = v["defects"]["list"]
    assert d["severity"] == "critical" and d["requirements"] == ["RAD-001"]
    assert "Åsa Lindqvist" in d["title"] and "https://tests.example.org/UAT/RAD-001-run2" in d["title"]
    assert v["defects_by_test_type"] == {"user acceptance test": {"critical": 1}}
    assert any("user acceptance test: 1 critical defect(s), allowed 0" in r for r in v["reasons"])
    assert "Åsa Lindqvist" in md.split("## Requirements")[0]  # the defect names the tester before the tables
    junit = (clean_run.parent / "junit.xml").read_text()
    assert "Åsa Lindqvist" in junit and "manual_failed" in junit


def test_a_manual_pass_never_turns_an_automated_failure_of_the_same_requirement_into_a_pass(tmp_path):
    results = write_run(tmp_path / "run" / "allure-results", {HIGH.id: TRUNCATED})
    path = manual_csv(tmp_path, row(HIGH.id))
    code, v, _ = gate(results, "--manual", str(path))
    assert code == 1 and v["verdict"] == "NO-GO"
    req = v["requirements"][HIGH.id]
    assert req["status"] == "failed" and {s["status"] for s in req["scenarios"]} == {"passed", "failed"}


@pytest.mark.parametrize("result, word", [("blocked", "Blocked"), ("not run", "Not run")])
def test_blocked_and_not_run_verify_nothing_a_gap_never_go(clean_run, tmp_path, result, word):
    path = manual_csv(tmp_path, row("MUL-001", "workstream verification", result, evidence=""))
    code, v, md = gate(clean_run, "--manual", str(path))
    assert code == 4 and v["verdict"] == "INCOMPLETE" and not v["defects"]["list"]
    (gap,) = v["scope"]["missing"]
    assert gap["kind"] == "manual result" and gap["requirements"] == ["MUL-001"] and word in gap["why"]


def test_a_stale_pass_is_flagged_and_verifies_nothing_a_stale_failure_still_fails(clean_run, tmp_path):
    old = TODAY - dt.timedelta(days=31)  # gate.yaml manual.max_age_days: 30
    code, v, _ = gate(clean_run, "--manual", str(manual_csv(tmp_path, row(date=old))))
    assert code == 4 and v["verdict"] == "INCOMPLETE"
    assert "Stale (user acceptance test)" in v["scope"]["missing"][0]["why"]
    code, v, md = gate(clean_run, "--manual", str(manual_csv(tmp_path, row(result="failed", date=old))))
    assert code == 1 and v["verdict"] == "NO-GO" and len(v["stale_manual_failures"]) == 1
    assert "Stale manual results" in md
    # 30 days old is not stale yet
    # (today read here, not at collection: a run across midnight would make it 31 days)
    code, v, _ = gate(clean_run, "--manual", str(manual_csv(tmp_path, row(date=dt.date.today() - dt.timedelta(days=30)))))
    assert code == 0


def test_a_scope_naming_a_manual_test_type_is_incomplete_without_it_and_go_with_it(clean_run, tmp_path):
    # the commented-out example of contracts/gate.yaml, switched on
    text = (PROJECT_ROOT / "contracts" / "gate.yaml").read_text(encoding="utf-8")
    on = text.replace("    # acceptance:\n", "    acceptance:\n").replace(
        "    #   description:", "      description:").replace("    #   test_types:", "      test_types:")
    assert on != text and "\n    acceptance:\n" in on
    gate_file = tmp_path / "gate.yaml"
    gate_file.write_text(on, encoding="utf-8")
    from genrep.results.gate import decide
    rules = load_gate(gate_file)
    part = next(p for p in rules.scope.parts if p.name == "acceptance")
    assert set(part.test_types) == set(MANUAL_TEST_TYPES)

    def verdict(manual_rows=()):
        folder = tmp_path / f"r{len(manual_rows)}" / "allure-results"
        write_run(folder)
        if manual_rows:
            from genrep.results.manual import write
            write(folder, load_manual(manual_csv(tmp_path, *manual_rows), CATALOGUE), CATALOGUE)
        return decide(read_results(folder), CATALOGUE, rules.thresholds, scope=rules.scope, count=rules.count)

    v = verdict()
    assert v.status == "INCOMPLETE"
    assert {g.name for g in v.missing if g.kind == "test type"} == set(MANUAL_TEST_TYPES)
    v = verdict([row(test_type=t) for t in MANUAL_TEST_TYPES])
    assert v.status == "GO", v.reasons


def test_the_swedish_example_reads_through_its_mapping():
    results = load_manual(FIXTURES / "acceptanstest-sv.yaml", CATALOGUE, today=dt.date(2026, 11, 30))
    assert {m.result for m in results} == {"passed", "blocked", "not run"}
    assert {m.test_type for m in results} == set(MANUAL_TEST_TYPES)
    assert results[0].tester == "Åsa Lindqvist" and results[1].comment == 'Negationer kvar: "ingen fraktur", "utan tecken på"'
    assert len(load_manual(FIXTURES / "acceptance-en.csv", CATALOGUE, today=dt.date(2026, 11, 30))) == 3


@pytest.mark.parametrize("body, line, column, words", [
    (HEADER + row("RAD-999") + "\n", 2, "requirement", "refused: requirement 'RAD-999' is not in the catalogue"),
    (HEADER + row(result="godkänd") + "\n", 2, "result", "'godkänd' is not one of passed, failed"),
    (HEADER + row(test_type="smoke test") + "\n", 2, "test_type", "'smoke test' is not one of"),
    (HEADER + row() + "\n" + row(date="30/11/2026") + "\n", 3, "date", "expected a date YYYY-MM-DD"),
    (HEADER + row(date=TODAY + dt.timedelta(days=2)) + "\n", 2, "date", "after today"),  # 2: a run across midnight
    (HEADER + row(result="failed", evidence="") + "\n", 2, "evidence", "a failed result needs its evidence"),
    (HEADER + row(tester="") + "\n", 2, "tester", "empty"),
    (HEADER + row() + ",extra\n", 2, "column 8", "the row has 8 cells, the header 7"),
    (HEADER + "RAD-001,user acceptance test,passed\n", 2, "tester", "the row has 3 cells"),
    (HEADER + row() + "\n" + 'RAD-001,"user acceptance test"x,passed,A,2026-01-01,e,c\n', 3, None, "malformed CSV row"),
    ("requirement,result,tester,date,evidence\n" + "RAD-001,passed,A,2026-01-01,e\n", 1, "test_type",
     "the column 'test_type' (for test_type) is not in the header"),
])
def test_bad_manual_csv_fails_with_file_line_and_column(tmp_path, body, line, column, words):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_manual(path, CATALOGUE)
    err = info.value
    assert err.file == str(path) and err.line == line, str(err)
    if column is not None:
        assert err.key == column, str(err)
    assert words in str(err), str(err)


def test_the_column_number_is_named_too(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + row(result="maybe") + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.csv:2, key 'result': column 3 'result': 'maybe' is not one of"):
        load_manual(path, CATALOGUE)


def test_a_bad_mapping_file_names_its_own_file_line_and_key(tmp_path):
    (tmp_path / "x.csv").write_text("Krav;Resultat\n", encoding="utf-8")
    path = tmp_path / "m.yaml"
    path.write_text("manual: 1\nimport:\n  file: x.csv\n  columns: {requirement: Krav, result: Resultat}\n"
                    "  result_values: {Godkänd: approved}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_manual(path, CATALOGUE)
    assert info.value.file == str(path) and "the column of 'test_type' is missing" in str(info.value)
    path.write_text(path.read_text().replace("columns: {requirement: Krav, result: Resultat}",
                                             "columns: {requirement: Krav, result: Resultat, test_type: T, tester: P,"
                                             " date: D}"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_manual(path, CATALOGUE)
    assert info.value.key == "import.result_values.Godkänd" and info.value.line == 5


def test_bad_manual_input_fails_the_cli_before_anything_is_written(clean_run, tmp_path, capsys):
    before = sorted(p.name for p in clean_run.iterdir())
    code = main(["gate", "--results", str(clean_run), "--manual", str(manual_csv(tmp_path, row("RAD-999")))])
    assert code == 2
    assert "manual.csv:2" in capsys.readouterr().err
    assert sorted(p.name for p in clean_run.iterdir()) == before and not (clean_run.parent / "verdict.json").exists()


def test_one_home_for_csv_imports():
    """The register's tracker export and the manual results read CSV through results/csvmap.py only."""
    import inspect

    from genrep.results import manual, register
    for mod in (manual, register):
        source = inspect.getsource(mod)
        assert "import csv" not in source and "csv.reader" not in source and "DictReader" not in source
        assert "csvmap" in source
    assert csvmap.read_rows and csvmap.load_mapping
