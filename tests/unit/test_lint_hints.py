"""``genrep lint`` names the fix for a tester's common mistakes, one finding on the line to change:
a Swedish file without ``# language: sv``, English keywords in a Swedish file (and Swedish ones in an
English file), ``Då`` for Swedish Then, a docstring that is never closed (at its opening line), and
a report name that is not a file in ``fixtures/reports/`` (instead of a traceback at run time)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lint_runner
import pytest

from genrep.paths import PROJECT_ROOT, REPORT_TEXTS_DIR

FINDING = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<level>error|warning): (?P<message>.*)$")

PLANTED = {
    # Swedish keywords, no "# language: sv": one finding at line 1, not a parser error per line
    "utan_sprakrad.feature": """\
@radiology
Egenskap: Svensk fil utan språkrad
  Bakgrund:
    Givet radiologikontraktet
    Och en registrerad testpatient

  @RAD-001 @happy
  Scenario: Svensk fil utan språkrad skickar ett svar
    Givet svaret "dt_thorax"
    När RIS skickar svaret
    Så kvitterar journalen med AA
""",
    # the same, and a typo further down: the rest of the file is still checked
    "utan_sprakrad_stavfel.feature": """\
@radiology
Egenskap: Svensk fil utan språkrad och med stavfel
  @RAD-001 @happy
  Scenario: Stavfel i en fil utan språkrad
    Givet radiologikontraktet
    När RIS skickar svarett
""",
    "fel_sprakrad.feature": """\
# language: en
@radiology
Egenskap: Svensk fil som säger engelska
  @RAD-001 @happy
  Scenario: Fel språkrad
    Givet radiologikontraktet
""",
    # English keywords in a Swedish file: 'Given' first would be description text (the step vanishes)
    "engelska_nyckelord.sv.feature": """\
# language: sv
@radiology
Feature: Engelska nyckelord i en svensk fil
  @RAD-001 @happy
  Scenario: Given som första rad
    Given radiologikontraktet
    När RIS skickar svaret
    Then kvitterar journalen med AA
    And svaret som läses tillbaka från journalen är identiskt med det skickade
""",
    # a Swedish keyword in an English file
    "swedish_keyword.feature": """\
@radiology
Feature: A Swedish keyword in an English file
  När the feature description starts a line with a Swedish word, that is just text.

  @RAD-001 @happy
  Scenario: Givet in an English scenario
    Givet the radiology contract
    When the RIS sends the report
""",
    "da_i_stallet_for_sa.sv.feature": """\
# language: sv
@radiology
Egenskap: Då i stället för Så
  @RAD-001 @happy
  Scenario: Då är inget nyckelord
    Givet radiologikontraktet
    När RIS skickar svaret
    Då kvitterar journalen med AA
""",
    "unclosed.feature": """\
@radiology
Feature: A docstring that is never closed
  @RAD-001 @happy
  Scenario: The closing quotes are missing
    Given the radiology contract
    And the report text:
      \"\"\"
      Slutsats:
      Ingen fraktur.
    When the RIS sends the report
    Then the EHR acknowledges with AA
""",
    "fixtures.feature": """\
@radiology
Feature: Report names are files in fixtures/reports
  @RAD-001 @happy
  Scenario: A misspelt report name
    Given the report "dt_thorx"

  @RAD-001 @happy
  Scenario: A report name with its file extension
    Given the report "dt_thorax.txt"

  @RAD-001 @happy
  Scenario: A report name with a space
    Given the report "dt thorax"

  @RAD-001 @happy
  Scenario: A known report name
    Given the report "rtg_handled" in Unicode NFD form

  @RAD-001 @happy
  Scenario Outline: Report names from Examples, <report>
    When the RIS sends version "final" of the report with the text of "<report>"

    Examples:
      | report      |
      | rtg_handled |
      | rtg_hanled  |
""",
    "rapportnamn.sv.feature": """\
# language: sv
@radiology
Egenskap: Svarets namn på svenska
  @RAD-001 @happy
  Scenario: Ett svar som inte finns
    Givet svaret "dt_torax"
""",
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hints")
    for name, text in PLANTED.items():
        (folder / name).write_text(text, encoding="utf-8")
    proc = lint_runner.run_lint(".", cwd=folder)  # the command, in this process (lint_runner says why)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(FINDING.match(line) for line in lines), proc.stdout + proc.stderr
    return [m.groupdict() for m in map(FINDING.match, lines)]


def of(findings, file: str) -> list[tuple[int, str, str]]:
    return [(int(f["line"]), f["level"], f["message"]) for f in findings if f["file"] == file]


def test_missing_language_line_is_one_finding_that_names_the_fix(findings):
    got = of(findings, "utan_sprakrad.feature")
    assert len(got) == 1, got
    line, level, msg = got[0]
    assert (line, level) == (1, "error")
    assert "'# language: sv'" in msg and "top of the file" in msg and "'Egenskap:' on line 2" in msg
    assert "syntax error" not in msg


def test_without_the_language_line_the_rest_of_the_file_is_still_checked(findings):
    got = of(findings, "utan_sprakrad_stavfel.feature")
    assert [(line, level) for line, level, _ in got] == [(1, "error"), (6, "error")], got
    assert "RIS skickar svarett" in got[1][2] and "RIS skickar svaret'" in got[1][2]


def test_an_english_language_line_on_a_swedish_file(findings):
    got = of(findings, "fel_sprakrad.feature")
    assert len(got) == 1 and got[0][0] == 1, got
    assert "says '# language: en'" in got[0][2] and "change that line to '# language: sv'" in got[0][2]


def test_english_keywords_in_a_swedish_file_are_flagged_on_their_lines(findings):
    got = of(findings, "engelska_nyckelord.sv.feature")
    assert [line for line, _, _ in got] == [3, 6, 8, 9], got
    by_line = {line: msg for line, _, msg in got}
    assert "'Feature:' is an English keyword" in by_line[3] and "write 'Egenskap:'" in by_line[3]
    assert "'Given' is an English keyword, but this file is Swedish (# language: sv): write 'Givet'" in by_line[6]
    assert "description text" in by_line[6]  # what happens to it as it is
    assert "write 'Så'" in by_line[8] and "write 'Och'" in by_line[9]
    assert all(level == "error" for _, level, _ in got)


def test_a_swedish_keyword_in_an_english_file(findings):
    got = of(findings, "swedish_keyword.feature")
    assert [line for line, _, _ in got] == [7], got  # not line 3: a description may start with any word
    assert "'Givet' is a Swedish keyword, but this file is English: write 'Given'" in got[0][2]
    assert "# language: sv" in got[0][2]


def test_da_instead_of_sa(findings):
    got = of(findings, "da_i_stallet_for_sa.sv.feature")
    assert len(got) == 1, got
    line, level, msg = got[0]
    assert (line, level) == (8, "error")
    assert "'Då' is not a Gherkin keyword" in msg and "Then is 'Så'" in msg
    assert "write 'Så kvitterar journalen med AA'" in msg


def test_an_unclosed_docstring_is_reported_at_its_opening_line_in_plain_words(findings):
    got = of(findings, "unclosed.feature")
    assert len(got) == 1, got
    line, level, msg = got[0]
    assert (line, level) == (7, "error")  # the opening """, not the end of the file
    assert 'never closed' in msg and 'add a line with just """' in msg
    assert "#" not in msg and "expected" not in msg  # no parser token names


def test_unknown_report_names_are_errors_listing_the_known_ones(findings):
    got = {line: msg for line, _, msg in of(findings, "fixtures.feature")}
    known = sorted(p.stem for p in REPORT_TEXTS_DIR.glob("*.txt"))
    assert sorted(got) == [5, 9, 13, 21], got  # line 17 names a real report
    assert 'unknown report "dt_thorx"' in got[5] and 'did you mean "dt_thorax"?' in got[5]
    assert "fixtures/reports/" in got[5] and all(name in got[5] for name in known)
    assert 'write the name without ".txt": "dt_thorax"' in got[9]
    assert "must be letters, digits" in got[13]
    assert 'unknown report "rtg_hanled"' in got[21]  # the second Examples row


def test_unknown_report_name_in_a_swedish_step(findings):
    got = of(findings, "rapportnamn.sv.feature")
    assert len(got) == 1 and got[0][0] == 6, got
    assert 'unknown report "dt_torax"' in got[0][2] and 'did you mean "dt_thorax"?' in got[0][2]


def test_report_name_parameters_are_found_in_the_step_source():
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from steps.step_registry import all_step_contexts, fixture_parameters

    found = {c.step_func.__name__: sorted(fixture_parameters(c.step_func)) for _, c in all_step_contexts()
             if fixture_parameters(c.step_func)}
    assert found["given_report"] == ["name"] and found["when_send_version"] == ["name"]
    assert found["when_answer_referral"] == ["name"]  # a journey step loads reports too
    assert "given_generated_lines" not in found


def test_the_repository_features_have_no_findings():
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "lint", "features/"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    assert proc.stderr.startswith("0 error(s), 0 warning(s)"), proc.stderr


def test_the_language_line_mistakes_do_not_touch_a_correct_swedish_file(tmp_path: Path):
    text = PLANTED["utan_sprakrad.feature"]
    (tmp_path / "ratt.sv.feature").write_text("# language: sv\n" + text, encoding="utf-8")
    proc = lint_runner.run_lint(".", cwd=tmp_path)  # the command, in this process (lint_runner says why)
    assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr
