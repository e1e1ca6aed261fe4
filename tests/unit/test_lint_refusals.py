"""``genrep lint`` flags as errors what would abort or falsify a rehearsal: an empty feature file, one
that is not UTF-8 (named with byte offset and line), two scenarios of the same name in one file."""

from __future__ import annotations

import subprocess
import sys

import lint_runner

from genrep.paths import PROJECT_ROOT

CLEAN = """\
@radiology
Feature: Clean
  @RAD-001
  Scenario: Clean scenario
    Given the radiology contract
    When the RIS sends the report
    Then the EHR acknowledges with AA
"""


def lint(*args, cwd=PROJECT_ROOT):
    return lint_runner.run_lint(*args, cwd=cwd)  # the command, in this process (lint_runner says why)


def test_an_empty_feature_file_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "clean.feature").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "empty.feature").write_text("", encoding="utf-8")
    (tmp_path / "blank.feature").write_text("\n  \n# just a comment\n", encoding="utf-8")
    proc = lint(tmp_path, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "empty.feature:1: error: empty feature file" in proc.stdout
    assert "blank.feature:1: error: no 'Feature:' in this file" in proc.stdout
    assert "add a 'Feature:'" in proc.stdout and "clean.feature" not in proc.stdout


def test_a_non_utf8_feature_file_is_an_error_with_byte_offset_and_line(tmp_path):
    text = CLEAN.replace("Clean scenario", "Röntgen scenario").encode("latin-1")  # ö as the single byte 0xf6
    (tmp_path / "latin1.feature").write_bytes(text)
    offset = text.index(b"\xf6")
    line = text[:offset].count(b"\n") + 1
    proc = lint(tmp_path / "latin1.feature", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"latin1.feature:{line}: error: not valid UTF-8: byte 0xf6 at byte offset {offset} (line {line}" \
        in proc.stdout
    assert "save the file as UTF-8" in proc.stdout


def test_two_scenarios_of_the_same_name_in_one_file_are_an_error(tmp_path):
    second = CLEAN.split("  @RAD-001\n", 1)[1]
    (tmp_path / "dup.feature").write_text(CLEAN + "\n  @RAD-001\n" + second, encoding="utf-8")
    proc = lint(tmp_path / "dup.feature", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dup.feature:10: error: duplicate scenario name 'Clean scenario': dup.feature:4 has the same name" \
        in proc.stdout and "rename one" in proc.stdout


def test_errors_only_leaves_warnings_out(tmp_path):
    (tmp_path / "wip.feature").write_text(CLEAN.replace("@RAD-001", "@wip"), encoding="utf-8")
    (tmp_path / "empty.feature").write_text("", encoding="utf-8")
    both = subprocess.run([sys.executable, "-m", "steps.lint", str(tmp_path)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    errors = subprocess.run([sys.executable, "-m", "steps.lint", "--errors-only", str(tmp_path)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert ": warning: " in both.stdout and ": warning: " not in errors.stdout
    assert "empty.feature:1: error" in errors.stdout and errors.returncode == 1
