"""A tester running their own scenarios (issue 17, part 5), end to end in a throw-away copy of the
project (``support.copy_project``: ``PROJECT_ROOT``, and so ``reports/``, is the copy's):

- ``rehearse --list`` prints feature:line, title, tags and requirement ids of the selection, exits 0
  and runs nothing;
- ``--name`` with spaces and å, ä, ö (as typed, any case) selects exactly the scenarios whose title
  contains it;
- a subset run (``--name``, ``-k``, ``-m`` without ``--results``) writes to
  ``reports/runs/<timestamp>/`` and leaves the last full rehearsal's ``reports/`` (summary.md,
  verdict.json, scorecard, traceability, JUnit, Allure results, HTML, history) byte for byte as it was;
- its failure text reads as the domain message, the step and file:line: no pytest frame in the
  terminal (``fixture_result = fixturefunc(**kwargs)``), none in summary.md, and the traceback Allure
  saves still names the step definition's frames."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from genrep.outputs import MARKER
from genrep.paths import PROJECT_ROOT
from genrep.results.reader import read_results
from support import copy_project

STARTED = "genrep rehearse: environment"  # printed as the suite starts
# a Swedish scenario title, one scenario: features/journeys/akutsjukvard.sv.feature
SWEDISH_NAME = "utsträckt hand"
SWEDISH_TITLE = "Fall mot utsträckt hand: preliminärt svar, slutligt svar och rättat svar"
PYTEST_INTERNALS = ("fixturefunc", "fixture_result", "_pytest/", "pluggy", "site-packages", "kwargs = ")

# what the last full rehearsal left in reports/ (contents as genrep writes them start)
FULL_OUTPUTS = {
    "summary.md": "# genrep go-live readiness\n\nVERDICT: GO\n",
    "verdict.json": '{\n  "verdict": "GO"\n}\n',
    "scorecard.html": "<html><title>genrep go-live readiness</title></html>\n",
    "traceability.csv": "requirement,title,integration\nRAD-R01,x,radiology\n",
    "junit.xml": '<testsuites name="genrep go-live verdict"></testsuites>\n',
    "allure-results/" + MARKER: "genrep output\n",
    "allure-results/full-1-result.json": '{"name": "from the full rehearsal", "status": "passed"}',
    "html/index.html": "<html>the full rehearsal's report</html>\n",
    "history/verdicts/20250301T101500-00.json": '{"verdict": "GO", "full": true}\n',
}


def snapshot(folder, skip=("runs",)):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in skip}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with every feature file, and a full rehearsal's outputs in its reports/."""
    root, env = copy_project(tmp_path_factory.mktemp("subset") / "project")
    shutil.copytree(PROJECT_ROOT / "features", root / "features")
    for name, text in FULL_OUTPUTS.items():
        path = root / "reports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root, env


def genrep(project, *args, timeout=300):
    root, env = project
    return subprocess.run([sys.executable, "-m", "genrep.cli", *args], cwd=root, capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, env=dict(env, PYTHONIOENCODING="utf-8"))


def scenario_titles(root, needle):
    """(feature file, line) of every scenario whose title contains ``needle`` (casefolded), read from
    the feature files themselves."""
    found = set()
    for path in sorted((root / "features").rglob("*.feature")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r"\s*(Scenario|Scenario Outline|Scenariomall|Abstrakt scenario):\s*(.*)", line)
            if m and needle.casefold() in m.group(2).casefold():
                assert "Outline" not in m.group(1) and "mall" not in m.group(1).lower(), "pick a needle without outlines"
                found.add((path.relative_to(root).as_posix(), number))
    return found


def listed(stdout):
    """(feature, line) -> (title, tags line) of ``rehearse --list``'s output."""
    lines = stdout.splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.fullmatch(r"(features/\S+\.feature):(\d+)  (.+)", line)
        if m:
            out[(m.group(1), int(m.group(2)))] = (m.group(3), lines[i + 1])
    return out


def new_run_folder(root, before):
    runs = root / "reports" / "runs"
    added = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    assert len(added) == 1, f"expected one new folder in {runs}, got {added}"
    assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", added[0].name), added[0].name
    return added[0]


def existing_runs(root):
    runs = root / "reports" / "runs"
    return set(runs.iterdir()) if runs.is_dir() else set()


def test_list_prints_feature_line_title_tags_and_requirements_and_runs_nothing(project):
    root, _ = project
    before = snapshot(root / "reports", skip=())
    proc = genrep(project, "rehearse", "--list", "--name", SWEDISH_NAME)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    found = listed(proc.stdout)
    assert set(found) == scenario_titles(root, SWEDISH_NAME) == {("features/journeys/akutsjukvard.sv.feature", 29)}
    title, tags = found[("features/journeys/akutsjukvard.sv.feature", 29)]
    assert title == SWEDISH_TITLE
    m = re.fullmatch(r"\s+tags: (.+?)\s+requirements: (.+)", tags)
    assert m, tags
    assert "@journey" in m.group(1).split() and all(t.startswith("@") for t in m.group(1).split())
    requirements = m.group(2).split(", ")
    assert requirements and all(re.fullmatch(r"[A-Z]+(-[A-Z0-9]+)+", r) for r in requirements), requirements
    assert "1 scenario(s)" in proc.stdout
    # nothing ran, nothing was written
    assert STARTED not in proc.stdout and "passed" not in proc.stdout
    assert snapshot(root / "reports", skip=()) == before and not (root / "reports" / "runs").exists()


@pytest.mark.parametrize("needle", ["läkemedelsavstämning", "LÄKEMEDELSAVSTÄMNING", "Båda Multum-servrarna är nere"])
def test_name_with_spaces_and_swedish_letters_selects_exactly_the_matching_scenarios(project, needle):
    root, _ = project
    proc = genrep(project, "rehearse", "--list", "--name", needle)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    expected = scenario_titles(root, needle)
    assert expected  # the needle is in the features: the test means something
    assert set(listed(proc.stdout)) == expected
    assert f"{len(expected)} scenario(s)" in proc.stdout


def test_list_of_a_name_nothing_has_says_so(project):
    proc = genrep(project, "rehearse", "--list", "--name", "ingen sådan titel finns")
    assert proc.returncode == 0 and "0 scenario(s): nothing matches the selection" in proc.stdout


def test_subset_run_by_swedish_name_has_its_own_folder_and_clean_failure_text(project):
    """One Swedish scenario, replayed defect: NO-GO in reports/runs/<timestamp>/, the full rehearsal's
    outputs untouched; the terminal, summary.md and Allure tell the failure without pytest internals."""
    root, _ = project
    full_before = snapshot(root / "reports")
    runs_before = existing_runs(root)
    proc = genrep(project, "rehearse", "--name", SWEDISH_NAME, "--defect", "radiology-ack-without-store",
                  "--no-html")
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "VERDICT: NO-GO" in proc.stdout

    run = new_run_folder(root, runs_before)
    for name in ("summary.md", "verdict.json", "scorecard.html", "traceability.csv", "junit.xml"):
        assert (run / name).is_file(), name
    assert snapshot(root / "reports") == full_before  # the last full rehearsal's outputs, byte for byte
    scenarios = read_results(run / "allure-results")
    assert [s.name for s in scenarios] == [SWEDISH_TITLE]  # exactly the one scenario
    assert json.loads((run / "verdict.json").read_text(encoding="utf-8"))["verdict"] == "NO-GO"

    # terminal: the failure starts at the step definition; no pytest frame, no fixture locals
    failures = proc.stdout[proc.stdout.index("FAILURES"):]
    assert "not_stored" in failures and re.search(r"^steps/radiology_steps\.py:\d+: in ", failures, re.M)
    for internal in PYTEST_INTERNALS:
        assert internal not in failures, f"{internal!r} in the terminal output:\n{failures[:3000]}"

    # summary.md: domain message, then the step and file:line
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert "not_stored" in summary
    assert re.search(r"at step '[^']+', steps/radiology_steps\.py:\d+", summary), summary[-3000:]
    for internal in PYTEST_INTERNALS:
        assert internal not in summary

    # Allure keeps a traceback (not emptied): the step definition's frames and the assertion
    [scenario] = scenarios
    assert re.search(r"steps/radiology_steps\.py:\d+: in ", scenario.trace) and "AssertionError" in scenario.trace
    assert "_pytest/" not in scenario.trace


def test_subset_run_by_marker_writes_its_own_folder_too(project):
    root, _ = project
    full_before = snapshot(root / "reports")
    runs_before = existing_runs(root)
    proc = genrep(project, "rehearse", "-m", "RAD-001 and happy", "--no-html")
    # nothing failed, but a subset is never the whole scope a GO needs
    assert proc.returncode == 4, proc.stdout[-4000:] + proc.stderr[-2000:]
    run = new_run_folder(root, runs_before)
    assert f"Allure results: {run / 'allure-results'}" in proc.stdout
    assert (run / "summary.md").is_file() and (run / "verdict.json").is_file()
    names = {s.name for s in read_results(run / "allure-results")}
    assert names == {"Ett slutligt DT-svar lagras exakt som det skickades", "A final CT report is stored exactly as sent"}
    assert snapshot(root / "reports") == full_before


def test_results_given_is_used_as_it_is(project, tmp_path):
    """--results names the folder: a subset run then writes there, and not into reports/runs/."""
    root, _ = project
    runs_before = existing_runs(root)
    full_before = snapshot(root / "reports")
    results = tmp_path / "mine" / "allure-results"
    proc = genrep(project, "rehearse", "-k", "final_ct_report", "--no-html", "--results", str(results))
    assert proc.returncode == 4, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (results.parent / "summary.md").is_file() and (results.parent / "verdict.json").is_file()
    assert [s.name for s in read_results(results)] == ["A final CT report is stored exactly as sent"]
    assert existing_runs(root) == runs_before and snapshot(root / "reports") == full_before
