"""``genrep lint``: feature files are checked without running them (steps, tags, names, syntax)."""

from __future__ import annotations

import re
from pathlib import Path

import lint_runner
import pytest

from genrep.paths import PROJECT_ROOT

FINDING = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<level>error|warning): (?P<message>.*)$")


def run_lint(*paths, cwd: Path = PROJECT_ROOT, real: bool = False):
    """The command in this process (lint_runner says why), or with ``real`` the command itself."""
    proc = (lint_runner.run_command if real else lint_runner.run_lint)(*paths, cwd=cwd)
    findings = [m.groupdict() for m in map(FINDING.match, proc.stdout.splitlines()) if m]
    return proc, findings


def at(findings, file: str, line: int, level: str = "error") -> list[str]:
    return [f["message"] for f in findings
            if f["file"] == file and int(f["line"]) == line and f["level"] == level]


# Valid steps to build planted files from (radiology steps, English and Swedish)
PLANTED = {
    "clean.feature": """\
@radiology
Feature: A clean feature
  @RAD-001 @happy
  Scenario: Clean scenario that passes lint
    Given the radiology contract
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

  @RAD-R03 @negative
  Scenario Outline: Clean outline with <convention>
    Given the report "dt_thorax"
    When the RIS sends the report using the "<convention>" convention
    Then the EHR acknowledges with AA

    Examples:
      | convention   |
      | obx-per-line |
""",
    "undefined.feature": """\
@radiology
Feature: Undefined step
  @RAD-001
  Scenario: A step with a typo
    Given the radiology contract
    When the RIS sends the reprot
    Then the EHR acknowledges with AA
""",
    "untagged.feature": """\
@radiology
Feature: Missing requirement tag

  @happy
  Scenario: A scenario without a requirement
    Given the radiology contract
""",
    "unknown_id.feature": """\
@radiology
Feature: Unknown requirement id

  @RAD-R999 @happy
  Scenario: A scenario with a made-up requirement
    Given the radiology contract
""",
    "dup_one.feature": """\
@radiology @RAD-001
Feature: First with the name
  Scenario: The same scenario name
    Given the radiology contract
""",
    "dup_two.feature": """\
@radiology @RAD-001
Feature: Second with the name

  Scenario: Another scenario
    Given the radiology contract

  Scenario: The same scenario name
    Given the radiology contract
""",
    "bad_tag.feature": """\
@radiology
Feature: Unregistered tag
  @RAD-001 @smoke
  Scenario: A scenario with an unregistered tag
    Given the radiology contract
""",
    "syntax.feature": """\
@radiology
Feature: Syntax error
  @RAD-001
  Scenario: A line without a keyword
    Given the radiology contract
    the RIS sends the report
""",
    "svensk.sv.feature": """\
# language: sv
@radiology
Egenskap: Svensk feature med ett odefinierat steg
  @RAD-001 @happy
  Scenario: Ett svenskt scenario med stavfel
    Givet radiologikontraktet
    När RIS skickar svarett
    Så kvitterar journalen med AA
    Och svaret som läses tillbaka från journalen är identiskt med det skickade
""",
    "and_then.feature": """\
@radiology
Feature: And takes the type of the step before
  @RAD-001
  Scenario: And after Then is a then-step
    Given the radiology contract
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the radiology contract
""",
    "examples_tag.feature": """\
@radiology
Feature: Requirement on the Examples
  @negative
  Scenario Outline: Requirement tag on the Examples only, <convention>
    Given the report "dt_thorax"
    When the RIS sends the report using the "<convention>" convention
    Then the EHR acknowledges with AA

    @RAD-R03
    Examples:
      | convention  |
      | repetitions |
""",
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    for name, text in PLANTED.items():
        (folder / name).write_text(text, encoding="utf-8")
    proc, findings = run_lint(".", cwd=folder, real=True)  # the command itself: findings, exit 1, another folder
    return proc, findings


def test_repository_features_pass():
    proc, findings = run_lint("features/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [f for f in findings if f["level"] == "error"]


def test_default_path_is_the_features_folder():
    proc, _ = run_lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "feature file(s)" in proc.stderr


def test_planted_mistakes_fail_the_lint(planted):
    proc, findings = planted
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert all(FINDING.match(line) for line in proc.stdout.splitlines()), proc.stdout


def test_clean_files_have_no_findings(planted):
    _, findings = planted
    for name in ("clean.feature", "examples_tag.feature"):
        assert not [f for f in findings if f["file"] == name], findings


def test_undefined_step(planted):
    msgs = at(planted[1], "undefined.feature", 6)
    assert msgs and "undefined step" in msgs[0] and "the RIS sends the reprot" in msgs[0]
    assert "the RIS sends the report" in msgs[0]  # the suggestion


def test_missing_requirement_tag(planted):
    msgs = at(planted[1], "untagged.feature", 5)
    assert msgs and "no requirement tag" in msgs[0]


def test_unknown_requirement_id(planted):
    msgs = at(planted[1], "unknown_id.feature", 4)
    assert msgs and "unknown requirement id @RAD-R999" in msgs[0]


def test_duplicate_scenario_name_across_files(planted):
    msgs = at(planted[1], "dup_two.feature", 7)
    assert msgs and "duplicate scenario name 'The same scenario name'" in msgs[0]
    assert "dup_one.feature:3" in msgs[0]
    assert not [f for f in planted[1] if f["file"] == "dup_one.feature"]


def test_unregistered_tag(planted):
    msgs = at(planted[1], "bad_tag.feature", 3)
    assert msgs and "unregistered tag @smoke" in msgs[0]


def test_syntax_error(planted):
    msgs = at(planted[1], "syntax.feature", 6)
    assert msgs and "Gherkin syntax error" in msgs[0] and "the RIS sends the report" in msgs[0]


def test_swedish_undefined_step(planted):
    findings = [f for f in planted[1] if f["file"] == "svensk.sv.feature"]
    assert [(int(f["line"]), f["level"]) for f in findings] == [(7, "error")], findings
    assert "RIS skickar svarett" in findings[0]["message"]
    assert "RIS skickar svaret'" in findings[0]["message"]  # the suggestion


def test_and_after_then_is_a_then_step(planted):
    findings = [f for f in planted[1] if f["file"] == "and_then.feature"]
    assert [int(f["line"]) for f in findings] == [8], findings  # line 7's Then matched as a then-step
    msg = findings[0]["message"]
    assert "no then-step matches 'the radiology contract'" in msg
    assert "given-step does" in msg


def test_and_as_first_step_is_reported(tmp_path):
    (tmp_path / "first_and.feature").write_text(
        "@radiology @RAD-001\nFeature: f\n  Scenario: And first\n    And the radiology contract\n",
        encoding="utf-8")
    proc, findings = run_lint("first_and.feature", cwd=tmp_path)
    assert proc.returncode == 1
    assert at(findings, "first_and.feature", 4)


def test_missing_path_is_bad_input(tmp_path):
    proc, _ = run_lint(tmp_path / "nowhere", cwd=tmp_path, real=True)  # the command itself: exit 2
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr


def test_the_guide_examples_pass_lint(tmp_path):
    guide = (PROJECT_ROOT / "docs" / "first-feature.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```gherkin\n(.*?)```", guide, re.S)
    assert len(blocks) >= 2 and any("# language: sv" in b for b in blocks)
    for i, block in enumerate(blocks):
        (tmp_path / f"guide_{i}.feature").write_text(block, encoding="utf-8")
    proc, findings = run_lint(".", cwd=tmp_path)
    assert proc.returncode == 0 and not findings, proc.stdout + proc.stderr
