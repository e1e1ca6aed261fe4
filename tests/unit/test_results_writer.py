"""The one Allure writer (genrep.results.writer): stable ids, the suite's requirement labels and link,
attachments as files, and a rerun replacing only the same producer's earlier results."""

from __future__ import annotations

import json

import pytest

from genrep.config.contracts import load_catalogue
from genrep.errors import ConfigError
from genrep.results import writer
from genrep.results.reader import read_results

CAT = load_catalogue()
LOAD_A = writer.Producer("genrep_load", "steady_day")
LOAD_B = writer.Producer("genrep_load", "golive_morning")


def _req(severity: str):
    return next(r for r in CAT.values() if r.severity == severity)


def _result(key="check-1", **kw) -> writer.Result:
    base = dict(key=key, name=f"check {key}", full_name=f"x:{key}", status="passed", requirements=[_req("high")])
    base.update(kw)
    return writer.Result(**base)


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_ids_are_stable_and_uuids_fresh(tmp_path):
    first, = writer.write(tmp_path / "r", [_result(case_key="check")], LOAD_A)
    a = _load(first)
    second, = writer.write(tmp_path / "r", [_result(case_key="check")], LOAD_A)
    b = _load(second)
    assert (a["historyId"], a["testCaseId"]) == (b["historyId"], b["testCaseId"]) == ("genrep-check-1", "genrep-check")
    assert a["uuid"] != b["uuid"] and second.name == f"{b['uuid']}-result.json"
    assert not first.exists()  # replaced by the rerun


def test_requirement_labels_and_link_are_the_suites(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREP_REQUIREMENT_URL", "https://tms.example/req/{id}")
    hi, crit = _req("high"), _req("critical")
    path, = writer.write(tmp_path, [_result(requirements=[hi, crit], labels=[("feature", "F")])], LOAD_A)
    data = _load(path)
    labels = [(lb["name"], lb["value"]) for lb in data["labels"]]
    for req in (hi, crit):
        assert {("requirement", req.id), ("test_type", req.test_type), ("epic", req.integration),
                ("story", f"{req.id} {req.title}")} <= set(labels)
    assert ("severity", "critical") in labels and ("defect_severity", "critical") in labels
    assert ("feature", "F") in labels and ("genrep_load", "steady_day") in labels
    assert data["links"] == [{"name": r.id, "url": f"https://tms.example/req/{r.id}", "type": "tms"} for r in (hi, crit)]
    assert read_results(tmp_path)[0].requirements == [hi.id, crit.id]


def test_severity_override_replaces_the_derived_one(tmp_path):
    path, = writer.write(tmp_path, [_result(requirements=[_req("critical")], severity="critical")], LOAD_A)
    sev = [lb["value"] for lb in _load(path)["labels"] if lb["name"] == "severity"]
    assert sev == ["critical"]


def test_failure_parameters_and_times(tmp_path):
    path, = writer.write(tmp_path, [_result(status="failed", message="sla_missed: p95 900 ms > 500 ms",
                                            parameters=[("users", 5), ("ok", None)], start_ms=10, stop_ms=20,
                                            description="why")], LOAD_A)
    data = _load(path)
    assert data["statusDetails"] == {"message": "sla_missed: p95 900 ms > 500 ms"}
    assert data["parameters"] == [{"name": "users", "value": "5"}, {"name": "ok", "value": "None"}]
    assert (data["start"], data["stop"], data["stage"], data["description"]) == (10, 20, "finished", "why")
    assert read_results(tmp_path)[0].kinds == ["sla_missed"]


def test_attachments_are_files_written_once_when_shared(tmp_path):
    shared = writer.Attachment("run", '{"a": 1}', "application/json")
    plot = writer.Attachment("plot", b"\x89PNG", "image/png")
    paths = writer.write(tmp_path, [_result("a", attachments=[shared, plot]), _result("b", attachments=[shared])],
                         LOAD_A)
    a, b = (_load(p) for p in paths)
    assert a["attachments"][0]["source"] == b["attachments"][0]["source"]
    assert [x["type"] for x in a["attachments"]] == ["application/json", "image/png"]
    assert (tmp_path / a["attachments"][1]["source"]).read_bytes() == b"\x89PNG"
    assert a["attachments"][1]["source"].endswith("-attachment.png")
    assert len(list(tmp_path.glob("*-attachment.*"))) == 2


def test_a_rerun_replaces_only_the_same_producers_results(tmp_path):
    (tmp_path / "suite-result.json").write_text(json.dumps({"name": "s", "status": "passed", "labels": []}))
    (tmp_path / "suite-attachment.txt").write_text("the suite's")
    att = writer.Attachment("run", "old", "text/plain")
    writer.write(tmp_path, [_result("a", attachments=[att]), _result("b")], LOAD_A)
    other, = writer.write(tmp_path, [_result("c")], LOAD_B)
    assert len(list(tmp_path.glob("*-result.json"))) == 4
    new = writer.write(tmp_path, [_result("a2")], LOAD_A)
    names = sorted(_load(p)["name"] for p in tmp_path.glob("*-result.json"))
    assert names == ["check a2", "check c", "s"] and new[0].exists() and other.exists()
    # the replaced results' attachment went with them; the suite's stays
    assert [p.name for p in tmp_path.glob("*-attachment*")] == ["suite-attachment.txt"]


def test_a_producer_for_every_value_replaces_all_its_values(tmp_path):
    writer.write(tmp_path, [_result("x")], writer.Producer("genrep_certs", "env-1"))
    writer.write(tmp_path, [_result("y")], writer.Producer("genrep_load", "p"))
    writer.write(tmp_path, [_result("z")], writer.Producer("genrep_certs", "env-2", every_value=True))
    assert sorted(_load(p)["name"] for p in tmp_path.glob("*-result.json")) == ["check y", "check z"]


def test_replacement_never_deletes_outside_the_folder(tmp_path):
    outside = tmp_path / "keep-attachment.txt"
    outside.write_text("x")
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "old-result.json").write_text(json.dumps({
        "name": "o", "status": "passed", "labels": [{"name": "genrep_load", "value": "steady_day"}],
        "attachments": [{"source": "../keep-attachment.txt"}, {"source": "/etc/passwd"}]}))
    writer.write(folder, [_result()], LOAD_A)
    assert outside.exists() and not (folder / "old-result.json").exists()


def test_a_folder_genrep_does_not_own_is_refused_untouched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="refused"):
        writer.write(tmp_path, [_result()], LOAD_A)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
