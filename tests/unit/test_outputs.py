"""``genrep.outputs``: genrep empties a folder only when it is genrep's (new, empty, marked, inside a
marked folder or reports/, or an older run's Allure results); anything else is refused untouched."""

from __future__ import annotations

import pytest

from genrep import outputs
from genrep.errors import ConfigError


@pytest.fixture
def project(tmp_path):
    """A stand-in project root with the folders genrep must never touch."""
    root = tmp_path / "project"
    for name in ("src", "steps", "features", "contracts", "reports"):
        (root / name).mkdir(parents=True)
    (root / "features" / "a.feature").write_text("Feature: A\n", encoding="utf-8")
    (root / "reports" / "README.md").write_text("Output only\n", encoding="utf-8")
    return root


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_new_folder_is_created_and_marked(tmp_path, project):
    out = outputs.clear(tmp_path / "new" / "results", project_root=project)
    assert out == tmp_path / "new" / "results"
    assert [p.name for p in out.iterdir()] == [outputs.MARKER]
    assert "genrep" in (out / outputs.MARKER).read_text(encoding="utf-8")


def test_an_empty_folder_is_claimed(tmp_path, project):
    (tmp_path / "empty").mkdir()
    outputs.clear(tmp_path / "empty", project_root=project)
    assert (tmp_path / "empty" / outputs.MARKER).is_file()


def test_a_marked_folder_is_emptied_but_keeps_its_marker(tmp_path, project):
    out = outputs.clear(tmp_path / "r", project_root=project)
    (out / "notes.txt").write_text("x", encoding="utf-8")
    (out / "sub").mkdir()
    (out / "sub" / "deep.bin").write_bytes(b"\0")
    outputs.clear(out, project_root=project)
    assert [p.name for p in out.iterdir()] == [outputs.MARKER]


def test_a_folder_of_foreign_files_is_refused_and_left_untouched(tmp_path, project):
    foreign = tmp_path / "mine"
    (foreign / "docs").mkdir(parents=True)
    (foreign / "journey.feature").write_text("Feature: mine\n", encoding="utf-8")
    (foreign / "docs" / "plan.md").write_text("plan\n", encoding="utf-8")
    (foreign / "1-result.json").write_text("{}", encoding="utf-8")
    before = snapshot(foreign)
    for action in (outputs.check, outputs.claim, outputs.clear):
        with pytest.raises(ConfigError) as err:
            action(foreign, what="Allure results folder (--results)", project_root=project)
        message = str(err.value)
        assert str(foreign) in message and "journey.feature" in message and "docs/" in message
        assert "nothing was deleted" in message
        assert snapshot(foreign) == before
    assert not (foreign / outputs.MARKER).exists()


def test_an_older_runs_allure_results_without_marker_are_genreps(tmp_path, project):
    old = tmp_path / "allure-results"
    (old / "history").mkdir(parents=True)
    for name in ("0a-result.json", "0b-container.json", "0c-attachment.txt", "0d-attachment",
                 "environment.properties", "categories.json", "executor.json", "history/history.json"):
        (old / name).write_text("{}", encoding="utf-8")
    outputs.clear(old, project_root=project)
    assert [p.name for p in old.iterdir()] == [outputs.MARKER]


def test_an_older_single_file_allure_report_is_genreps_any_other_index_html_is_not(tmp_path, project):
    report = tmp_path / "html"
    report.mkdir()
    (report / "index.html").write_text("<html><head><title>Allure Report</title>", encoding="utf-8")
    outputs.clear(report, project_root=project)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><head><title>My site</title>", encoding="utf-8")
    with pytest.raises(ConfigError, match="index.html"):
        outputs.clear(site, project_root=project)
    assert (site / "index.html").is_file()


def test_a_history_folder_holding_more_than_json_is_foreign(tmp_path, project):
    old = tmp_path / "results"
    (old / "history").mkdir(parents=True)
    (old / "history" / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="history/"):
        outputs.clear(old, project_root=project)
    assert (old / "history" / "keep.txt").is_file()


def test_inside_a_marked_folder_or_reports_is_genreps(tmp_path, project):
    outer = outputs.claim(tmp_path / "out", project_root=project)
    (outer / "html").mkdir()
    (outer / "html" / "anything.txt").write_text("x", encoding="utf-8")
    outputs.clear(outer / "html", project_root=project)
    assert not (outer / "html" / "anything.txt").exists()
    old = project / "reports" / "load" / "steady_day"
    old.mkdir(parents=True)
    (old / "locust.log").write_text("x", encoding="utf-8")
    outputs.clear(old, project_root=project)
    assert not (old / "locust.log").exists()
    assert (project / "reports" / "README.md").is_file()


@pytest.mark.parametrize("where", [".", "features", "features/radiology", "src", "src/genrep", "steps",
                                   "contracts", "reports", "tests/x", ".git", ".venv", ".."])
def test_the_project_and_its_source_folders_are_refused_even_when_empty(project, where):
    target = (project / where)
    before = snapshot(project)
    with pytest.raises(ConfigError, match="refused") as err:
        outputs.clear(target, project_root=project)
    assert str(target) in str(err.value)
    assert snapshot(project) == before
    assert not list(project.rglob(outputs.MARKER))


def test_claim_keeps_what_is_in_a_genrep_folder(tmp_path, project):
    out = outputs.claim(tmp_path / "load", project_root=project)
    (out / "stats.json").write_text("{}", encoding="utf-8")
    outputs.claim(out, project_root=project)
    assert (out / "stats.json").is_file()


def test_a_file_is_not_a_folder(tmp_path, project):
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file"):
        outputs.clear(tmp_path / "f", project_root=project)
    assert (tmp_path / "f").read_text(encoding="utf-8") == "x"


def test_a_symlink_in_a_marked_folder_is_removed_not_followed(tmp_path, project):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("x", encoding="utf-8")
    out = outputs.claim(tmp_path / "out", project_root=project)
    (out / "link").symlink_to(keep, target_is_directory=True)
    outputs.clear(out, project_root=project)
    assert not (out / "link").exists() and (keep / "precious.txt").is_file()


def test_the_real_project_folders_are_refused():
    from genrep.paths import PROJECT_ROOT
    for name in ("features", "contracts", "src", "steps"):
        with pytest.raises(ConfigError, match=f"project's {name}/ folder"):
            outputs.check(PROJECT_ROOT / name)
    with pytest.raises(ConfigError, match="project's root folder"):
        outputs.check(PROJECT_ROOT)


def test_a_verdict_file_genrep_did_not_write_is_refused_and_kept(tmp_path):
    """`--results ~/allure-results` writes summary.md beside it: someone else's summary.md stays."""
    from genrep.errors import ConfigError
    mine = tmp_path / "summary.md"
    mine.write_text("# My own notes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="genrep did not write it"):
        outputs.check_file(mine, signature="# genrep", what="verdict file")
    assert mine.read_text(encoding="utf-8") == "# My own notes\n"
    ours = tmp_path / "verdict.json"
    ours.write_text('{\n  "verdict": "GO"\n}', encoding="utf-8")
    assert outputs.check_file(ours, signature='"verdict":') == ours
    assert outputs.check_file(tmp_path / "traceability.csv", signature="requirement,") == tmp_path / "traceability.csv"
    (tmp_path / outputs.MARKER).write_text("x", encoding="utf-8")  # a folder genrep owns: anything goes
    assert outputs.check_file(mine, signature="# genrep") == mine
