"""`genrep rehearse` refuses, with exit 2 and before anything starts or is deleted: a results folder
that is not genrep's (`--results features`), an invalid -k or profile (previous results stay), and
feature files lint flags as errors (duplicate scenario names, empty, not UTF-8).

Feature-file cases run in a temporary copy of the project (``PYTHONPATH`` points at the copy's
``src``, so ``PROJECT_ROOT`` is the copy): the work tree's own features/ are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from genrep.paths import PROJECT_ROOT
from genrep.outputs import MARKER
from support import copy_project

CLEAN_FEATURE = "features/radiology/report_fidelity.feature"
STARTED = "genrep rehearse: environment"  # printed once everything is validated, as the suite starts


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def genrep(*args, cwd=PROJECT_ROOT, env=None, timeout=60):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout,
                          env=dict(os.environ if env is None else env, PYTHONIOENCODING="utf-8"))
    return proc, time.monotonic() - start


@pytest.fixture
def project_copy(tmp_path):
    """A copy of the project with one clean feature file; returns (root, env running it)."""
    root, env = copy_project(tmp_path / "project")
    (root / "features" / "radiology").mkdir(parents=True)
    shutil.copy2(PROJECT_ROOT / CLEAN_FEATURE, root / CLEAN_FEATURE)
    return root, env


@pytest.fixture
def previous_results(tmp_path):
    """A results folder as an earlier rehearsal left it (marker, results, summary)."""
    results = tmp_path / "prev" / "allure-results"
    results.mkdir(parents=True)
    (results / MARKER).write_text("genrep output\n", encoding="utf-8")
    (results / "1111-result.json").write_text('{"name": "earlier", "status": "passed"}', encoding="utf-8")
    (results / "2222-attachment.txt").write_text("earlier attachment", encoding="utf-8")
    return results


def test_results_folder_holding_feature_files_is_refused_and_nothing_deleted(tmp_path):
    folder = tmp_path / "my-features"
    (folder / "radiology").mkdir(parents=True)
    (folder / "radiology" / "mine.feature").write_text("Feature: mine\n", encoding="utf-8")
    (folder / "README.md").write_text("my notes\n", encoding="utf-8")
    before = snapshot(folder)
    proc, _ = genrep("rehearse", "--results", folder, "--no-html")
    assert snapshot(folder) == before and not (folder / MARKER).exists()
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert str(folder) in proc.stderr and "nothing was deleted" in proc.stderr
    assert STARTED not in proc.stdout


def test_results_features_of_the_project_is_refused(project_copy):
    root, env = project_copy
    before = snapshot(root / "features")
    proc, _ = genrep("rehearse", "--results", "features", "--no-html", cwd=root, env=env)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "project's features/ folder" in proc.stderr and STARTED not in proc.stdout
    assert snapshot(root / "features") == before


@pytest.mark.parametrize("bad", [("-k", "fidelity and ("), ("-m", "RAD-R12 or"), ("--env", "no-such-profile")])
def test_invalid_selection_or_profile_leaves_previous_results(previous_results, bad):
    before = snapshot(previous_results)
    proc, _ = genrep("rehearse", "--results", previous_results, "--no-html", *bad)
    assert snapshot(previous_results) == before
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "configuration error" in proc.stderr and STARTED not in proc.stdout


DUPLICATE = """\
@radiology
Feature: Two scenarios of one name
  @RAD-001
  Scenario: The same name twice
    Given the radiology contract
    When the RIS sends the report
    Then the EHR acknowledges with AA

  @RAD-001
  Scenario: The same name twice
    Given the radiology contract
    When the RIS sends the report
    Then the EHR acknowledges with AA
"""


@pytest.mark.parametrize("name, content, expected", [
    ("dup.feature", DUPLICATE.encode("utf-8"),
     "features/radiology/dup.feature:10: error: duplicate scenario name 'The same name twice': "
     "features/radiology/dup.feature:4 has the same name"),
    ("empty.feature", b"", "features/radiology/empty.feature:1: error: empty feature file"),
    ("latin1.feature", DUPLICATE.split("\n\n")[0].replace("Two scenarios of one name", "Röntgen").encode("latin-1"),
     "features/radiology/latin1.feature:2: error: not valid UTF-8: byte 0xf6 at byte offset 21 (line 2"),
])
def test_feature_files_lint_flags_are_refused_before_anything_starts(project_copy, previous_results, name,
                                                                       content, expected):
    root, env = project_copy
    (root / "features" / "radiology" / name).write_bytes(content)
    before = snapshot(previous_results)
    proc, took = genrep("rehearse", "--results", previous_results, "--no-html", cwd=root, env=env, timeout=120)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert expected in proc.stderr, proc.stderr
    assert "nothing was started and no results were cleared" in proc.stderr
    assert STARTED not in proc.stdout  # no simulator, no suite
    assert snapshot(previous_results) == before
    # a bound against a hang, not a speed: a fresh copy's first run compiles its sources, and CI's
    # 6 workers on 2 cores slow Python's start-up (under 30 s was exceeded there)
    assert took < 60, f"{took:.1f} s"


def test_selftest_refuses_feature_files_with_lint_errors(project_copy):
    root, env = project_copy
    (root / "features" / "radiology" / "empty.feature").write_bytes(b"")
    proc, _ = genrep("selftest", "--defect", "radiology-truncation", cwd=root, env=env)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "features/radiology/empty.feature:1: error: empty feature file" in proc.stderr
    assert "suite runs" not in proc.stdout and not (root / "reports" / "selftest").exists()
