"""The examination a report is for, read back (``integrations.shown_fields``): the name the EHR
shows in DiagnosticReport.code against OBR-4.2 as sent. A report whose text came back word for word
under a cut or changed examination name passed before (a mutation run showed it)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from genrep.config.contracts import load_radiology
from genrep.errors import ConfigError
from genrep.integrations.radiology import RadiologyClient, Representation, StoredReport, check_read_back
from genrep.integrations.shown_fields import check_examination, shown_examinations
from genrep.mutate.operators.fhir_examination_cut import FhirExaminationCut

TEXT = "Lungor utan anmärkning.\nSlutsats: Ingen pneumoni."


def stored(*examinations: str) -> StoredReport:
    rep = Representation("presentedForm[0] (Binary)", "text/plain", text=TEXT)
    return StoredReport(id="r1", accession="A1", status="final", text=TEXT, version="1",
                        representations=[rep], examinations=list(examinations))


@pytest.mark.parametrize(("code", "shown"), [
    ({"text": "Röntgen", "coding": [{"display": "Other"}]}, ["Röntgen", "Other"]),
    ({"coding": [{"code": "RAD"}, {"display": "Datortomografi thorax"}]}, ["Datortomografi thorax"]),
    ({"text": "  ", "coding": [{"code": "RAD"}]}, []),
    ({}, []), ("RAD", [])])
def test_the_names_shown_are_the_text_and_every_display(code, shown):
    assert shown_examinations({"resourceType": "DiagnosticReport", "code": code}) == shown


def test_a_terminology_coding_before_the_senders_own_is_no_failure():
    check = check_read_back(TEXT, stored("Chest X-ray", "Röntgen"), examination="Röntgen")
    assert check.ok, check.message()


def test_the_examination_as_sent_passes():
    check = check_read_back(TEXT, stored("Röntgen"), examination="Röntgen")
    assert check.ok, check.message()
    assert ("Examination read back", "Röntgen") in check.readings


@pytest.mark.parametrize(("shown", "how"), [("Röntg", "truncated"), ("Rontgen", "combining_marks_lost"),
                                           ("Ultraljud buk utan kontrast", "")])
def test_a_cut_or_changed_examination_is_a_failure_though_the_text_came_back_whole(shown, how):
    from genrep.results.failure_kinds import kinds_in
    check = check_read_back(TEXT, stored(shown), examination="Röntgen")
    assert not check.ok and len(check.failures) == 1
    assert check.failures[0].startswith("examination_changed: ") and repr(shown) in check.failures[0]
    assert how in check.failures[0] and "read_back.examination" in check.failures[0]  # what changed; the switch
    # filed as a changed examination, never as lost report text ("truncated", "lost_negation")
    assert kinds_in(check.failures[0]) == ["examination_changed"]


def test_no_name_shown_is_said_never_passed_in_silence():
    check = check_read_back(TEXT, stored(), examination="Röntgen")
    assert check.ok and any(n.startswith("examination_not_compared: ") for n in check.notes)
    assert check_examination("", ["anything"]) == (None, None)  # nothing sent: nothing to compare


def test_not_compared_when_the_contract_says_the_ehr_names_it_from_its_catalogue():
    contract = load_radiology()
    assert contract.read_back_examination == "as_sent"
    client = SimpleNamespace(contract=contract)
    assert not RadiologyClient.check(client, TEXT, stored("Röntg"), examination="Röntgen").ok
    client.contract = SimpleNamespace(read_back_examination="not_compared", text_rules=contract.text_rules)
    assert RadiologyClient.check(client, TEXT, stored("Röntg"), examination="Röntgen").ok


def test_an_unknown_rule_is_refused_naming_key_and_line(tmp_path):
    from genrep.paths import CONTRACTS_DIR
    text = (CONTRACTS_DIR / "radiology.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "radiology.yaml"
    bad.write_text(text.replace("examination: as_sent", "examination: own_catalogue"), encoding="utf-8")
    with pytest.raises(ConfigError, match="read_back.examination") as err:
        load_radiology(bad)
    assert "own_catalogue" in str(err.value) or "as_sent" in str(err.value)


def test_the_mutation_operator_cuts_only_the_examination():
    report = {"resourceType": "DiagnosticReport", "code": {"text": "Röntgen", "coding": [{"display": "Röntgen"}]},
              "conclusion": "Ingen pneumoni.", "presentedForm": [{"title": "Röntgen"}]}
    assert FhirExaminationCut().edit(report, None)
    assert report["code"] == {"text": "Röntg", "coding": [{"display": "Röntg"}]}
    assert report["conclusion"] == "Ingen pneumoni." and report["presentedForm"][0]["title"] == "Röntgen"
