"""Parsed YAML documents kept on disk (genrep.yamlfile: ``_stored``/``_store``): a process reads back
exactly what a fresh parse gives, an edited file is parsed again, errors are never kept, and a cache
entry that is damaged or holds anything but plain data is parsed again, never executed."""

from __future__ import annotations

import datetime
import pickle

import pytest

from genrep import yamlfile
from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR

DOC = """\
name: radiology   # a comment
when: 2024-11-12
limits:
  max_bytes: 4000
  codes: [AA, AE]
nested:
  - id: one
    seen: 2024-11-13T08:00:00+01:00
  - id: two
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder of its own, project files rooted at tmp_path, no in-memory copies."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(yamlfile.CACHE_ENV, str(folder))
    monkeypatch.setattr(yamlfile, "CACHED_ROOTS", (tmp_path,))
    monkeypatch.setattr(yamlfile, "_PARSED", {})
    return folder


def _fresh(path):
    """What a new process would get: nothing parsed in memory yet."""
    yamlfile._PARSED.clear()
    return yamlfile.load_yaml(path)


def _lines(data):
    if isinstance(data, yamlfile.Located):
        return {"file": data.file, "lines": dict(data.lines), **{k: _lines(v) for k, v in data.items()}}
    if isinstance(data, list):
        return [_lines(v) for v in data]
    return data


def test_a_kept_document_is_the_fresh_parse_with_its_lines_and_types(cache, tmp_path, monkeypatch):
    path = tmp_path / "doc.yaml"
    path.write_text(DOC, encoding="utf-8")
    first = _fresh(path)
    assert len(list(cache.glob("*.pickle"))) == 1
    calls = []
    monkeypatch.setattr(yamlfile, "_parse", lambda *a: calls.append(a) or pytest.fail("parsed again"))
    again = _fresh(path)
    assert calls == []
    assert again == first and _lines(again) == _lines(first)
    assert isinstance(again, yamlfile.Located) and again.line_of("limits") == 3
    assert again["nested"][0].line_of("seen") == 8 and again["nested"][0].file == str(path)
    assert type(again["when"]) is datetime.date and isinstance(again["nested"][0]["seen"], datetime.datetime)


def test_an_edited_file_is_parsed_again(cache, tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text(DOC, encoding="utf-8")
    assert _fresh(path)["limits"]["max_bytes"] == 4000
    path.write_text(DOC.replace("4000", "4001"), encoding="utf-8")
    assert _fresh(path)["limits"]["max_bytes"] == 4001
    assert len(list(cache.glob("*.pickle"))) == 2  # one entry per version of the file


def test_errors_are_never_kept(cache, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ConfigError, match="duplicate key"):
            _fresh(path)
    assert not cache.exists() or not list(cache.glob("*.pickle"))


@pytest.mark.parametrize("damage", ["truncated", "not a pickle", "foreign class"])
def test_a_damaged_or_foreign_entry_is_parsed_again_never_executed(cache, tmp_path, damage):
    path = tmp_path / "doc.yaml"
    path.write_text(DOC, encoding="utf-8")
    expected = _fresh(path)
    (entry,) = cache.glob("*.pickle")
    marker = tmp_path / "executed"
    if damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:20])
    elif damage == "not a pickle":
        entry.write_bytes(b"name: radiology\n")
    else:
        class Payload:
            def __reduce__(self):
                return (open, (str(marker), "w"))  # would create the marker file when loaded
        entry.write_bytes(pickle.dumps({"name": Payload()}))
    assert _fresh(path) == expected
    assert not marker.exists()
    assert pickle.loads(entry.read_bytes()) == expected  # rewritten with the fresh parse


def test_off_keeps_nothing_and_files_elsewhere_are_not_kept(cache, tmp_path, monkeypatch):
    path = tmp_path / "doc.yaml"
    path.write_text(DOC, encoding="utf-8")
    monkeypatch.setenv(yamlfile.CACHE_ENV, "off")
    assert yamlfile.cache_dir() is None
    _fresh(path)
    assert not cache.exists()
    monkeypatch.setenv(yamlfile.CACHE_ENV, str(cache))
    monkeypatch.setattr(yamlfile, "CACHED_ROOTS", (CONTRACTS_DIR,))  # tmp_path is not a project folder
    _fresh(path)
    assert not cache.exists()


def test_the_project_contracts_come_back_identical(cache, monkeypatch):
    monkeypatch.setattr(yamlfile, "CACHED_ROOTS", (CONTRACTS_DIR,))
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        first = _fresh(path)
        assert _lines(_fresh(path)) == _lines(first), path.name
    assert len(list(cache.glob("*.pickle"))) == len(list(CONTRACTS_DIR.glob("*.yaml")))


def test_old_entries_go_when_a_process_next_writes_one(cache, tmp_path, monkeypatch):
    import os
    import time
    cache.mkdir(parents=True)
    old, recent = cache / "old.pickle", cache / "recent.pickle"
    for entry in (old, recent):
        entry.write_bytes(b"x")
    past = time.time() - yamlfile.CACHE_KEEP_S - 60
    os.utime(old, (past, past))
    monkeypatch.setattr(yamlfile, "_PRUNED", False)
    path = tmp_path / "doc.yaml"
    path.write_text(DOC, encoding="utf-8")
    _fresh(path)
    assert not old.exists() and recent.exists()
