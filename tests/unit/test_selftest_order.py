"""The selftest starts its longest rows first and keeps its matrix in its own order.

Rows are mostly waiting (the referral rows wait out a contract bound per scenario); started in the
matrix's order the two longest began last and their time came on top of everyone else's."""

import contextlib
import json
import threading

import pytest

from genrep import selftest
from genrep.selftest import DefectOutcome, DurationsUnreadable, load_durations, run_order, store_durations
from genrep.sim.defects import DEFECTS



def test_longest_first_and_unknown_rows_before_them():
    names = ["clean", "a", "b", "c", "new"]
    durations = {"clean": 50.0, "a": 1.0, "b": 117.0, "c": 83.0}
    assert run_order(names, durations) == ["new", "b", "c", "clean", "a"]


def test_no_durations_keeps_the_matrix_order():
    names = ["clean", "a", "b"]
    assert run_order(names, {}) == names


def test_a_malformed_durations_file_orders_nothing_and_says_so(tmp_path):
    said = []
    bad = tmp_path / "d.json"
    bad.write_text("{not json", encoding="utf-8")
    assert load_durations(bad, echo=said.append) == {}
    assert "not read" in said[0]
    bad.write_text("[1, 2]", encoding="utf-8")
    assert load_durations(bad, echo=said.append) == {}
    bad.write_text(json.dumps({"a": 3, "b": "x", "c": -1, "d": True}), encoding="utf-8")
    assert load_durations(bad) == {"a": 3.0}
    assert load_durations(tmp_path / "absent.json") == {}


def test_stored_durations_only_of_passing_rows_and_only_of_todays_rows(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"removed-defect": 5.0, "clean": 1.0, "nll-word-loss": 3.0}), encoding="utf-8")
    caught = DefectOutcome(DEFECTS["registration-dob"], [], seconds=2.04)
    assert caught.ok
    store_durations([DefectOutcome(None, [], seconds=52.24),  # clean with no results: not ok
                     caught,
                     DefectOutcome(DEFECTS["nll-linebreaks"], [], error="boom", seconds=0.1),
                     DefectOutcome(DEFECTS["nll-release-drift"], [], missed=["NLL-003"], seconds=9.0),
                     DefectOutcome(DEFECTS["radiology-drops-under-load"], [], seconds=4.0)], path)
    # kept: today's rows from before; added: the row that passed; dropped: a defect that no longer
    # exists, the load-only defect (not a matrix row), the errored and the failing rows
    assert json.loads(path.read_text(encoding="utf-8")) == {"clean": 1.0, "nll-word-loss": 3.0,
                                                            "registration-dob": 2.0}
    assert not path.with_name("d.json.tmp").exists()


def test_an_unreadable_durations_file_is_never_overwritten(tmp_path):
    path = tmp_path / "d.json"
    path.write_text("{half", encoding="utf-8")
    with pytest.raises(DurationsUnreadable):
        store_durations([DefectOutcome(DEFECTS["registration-dob"], [], seconds=2.0)], path)
    assert path.read_text(encoding="utf-8") == "{half"


def test_the_checked_in_durations_know_every_feature_suite_row():
    rows = {"clean", *(n for n, d in DEFECTS.items() if d.integration != "performance-load")}
    assert set(load_durations()) == rows


def test_run_selftest_starts_the_longest_row_first_and_writes_the_matrix_in_its_order(monkeypatch, tmp_path):
    chosen = ["nll-linebreaks", "referral-silent-failure", "radiology-truncation"]
    durations = tmp_path / "d.json"
    durations.write_text(json.dumps({"clean": 50, "nll-linebreaks": 1, "referral-silent-failure": 117,
                                     "radiology-truncation": 4}), encoding="utf-8")
    started, lock = [], threading.Lock()

    def fake_run(defect, full):
        with lock:
            started.append(defect.name if defect else "clean")
        return DefectOutcome(defect, [], error="not run", seconds=0.0)

    monkeypatch.setattr(selftest, "DURATIONS_FILE", durations)
    monkeypatch.setattr(selftest, "_run_one", fake_run)
    monkeypatch.setattr(selftest, "forked_suite_runs", contextlib.nullcontext)
    monkeypatch.setattr(selftest, "REPORTS_DIR", tmp_path)
    monkeypatch.setattr(selftest.outputs, "claim", lambda path, what: path.mkdir(parents=True) or path)
    assert selftest.run_selftest(defects=[*chosen, chosen[0]], jobs=1, echo=lambda *_: None) == 1
    assert started == ["referral-silent-failure", "clean", "radiology-truncation", "nll-linebreaks"]
    matrix = json.loads((tmp_path / "selftest" / "matrix.json").read_text(encoding="utf-8"))
    assert [row["defect"] for row in matrix] == ["clean", *chosen]
    assert all("seconds" in row for row in matrix)


@pytest.mark.parametrize("full", [False, True])
def test_store_durations_only_from_the_selected_rows_run(monkeypatch, tmp_path, full):
    path = tmp_path / "d.json"
    monkeypatch.setattr(selftest, "DURATIONS_FILE", path)
    monkeypatch.setattr(selftest, "_run_one", lambda d, f: DefectOutcome(d, [], seconds=2.0))
    monkeypatch.setattr(selftest, "forked_suite_runs", contextlib.nullcontext)
    monkeypatch.setattr(selftest, "REPORTS_DIR", tmp_path)
    monkeypatch.setattr(selftest.outputs, "claim", lambda p, what: p.mkdir(parents=True) or p)
    said = []
    selftest.run_selftest(defects=["nll-linebreaks"], full=full, store=True, echo=said.append)
    if full:  # a full row runs the whole suite: its time orders nothing
        assert not path.exists() and any("ignored" in s for s in said)
    else:
        # the clean row here has no results (not ok): only the caught defect's time is stored
        assert json.loads(path.read_text(encoding="utf-8")) == {"nll-linebreaks": 2.0}


def test_an_unknown_defect_is_refused_with_exit_2_not_a_key_error():
    said = []
    assert selftest.run_selftest(defects=["no-such-defect"], echo=said.append) == 2
    assert "unknown defect" in said[0]
