"""The medication-list contract (genrep.integrations.medication_list): compare_lists, match, EHRMedicationClient."""

from __future__ import annotations

import pytest

from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.errors import FHIRError, ProtocolError
from genrep.text.fidelity import TextRules
from genrep.integrations.medication_list import EHRMedicationClient, ShownList, compare_lists, match
from genrep.integrations.nll import ADMIN_EXTENSION, Prescription, read_prescription

RULES = TextRules()
PI = "Ta 1 tablett 3 gånger dagligen\nvid smärta.\nTa inte med alkohol."
EHR_BASE = "https://ehr.test.example/fhir"
JSON_HDR = {"Content-Type": "application/fhir+json; charset=utf-8"}
UNKNOWN_MODIFIER = "http://electronichealth.se/fhir/StructureDefinition/NLLUnknownModifier"


def rx(rid: str = "rx-1", medication: str = "Alvedon 500 mg tablett", *, patient_instruction: str | None = PI,
       dosage_text: str = "1x3", admin: str | None = "Tas med ett glas vatten", note: str = "Efter operation",
       version: str = "1", modifiers: tuple[str, ...] = (), absent: str | None = None) -> Prescription:
    return Prescription(id=rid, medication=medication, patient_instruction=patient_instruction,
                        absent_reason=absent, dosage_text=dosage_text, administration_instruction=admin,
                        note=note, version=version, modifier_extensions=list(modifiers), resource={})


def shown(*items: Prescription, **kw) -> ShownList:
    return ShownList(True, list(items), **kw)


def ehr_copy(nll_rx: Prescription, **changes) -> Prescription:
    """What a faithful EHR shows for ``nll_rx`` (id prefixed as the virtual EHR does), with changes."""
    fields = dict(id=f"nll-{nll_rx.id}", medication=nll_rx.medication,
                  patient_instruction=nll_rx.patient_instruction, absent=nll_rx.absent_reason,
                  dosage_text=nll_rx.dosage_text, admin=nll_rx.administration_instruction, note=nll_rx.note,
                  version=nll_rx.version)
    fields.update(changes)
    rid = fields.pop("id")
    medication = fields.pop("medication")
    return rx(rid, medication, **fields)


# -- compare_lists -----------------------------------------------------------------------------------

def test_faithful_list_has_no_problems():
    nll = [rx("rx-1"), rx("rx-2", "Waran 2,5 mg", note="")]
    assert compare_lists(nll, shown(*(ehr_copy(r) for r in nll)), RULES) == []


def test_empty_nll_and_empty_ehr_is_faithful():
    assert compare_lists([], shown(), RULES) == []


def test_lost_word():
    nll = rx()
    got = ehr_copy(nll, patient_instruction=PI.replace("3 gånger dagligen", "3 dagligen"))
    problems = compare_lists([nll], shown(got), RULES)
    assert len(problems) == 1
    assert problems[0].startswith("patient instruction of 'Alvedon 500 mg tablett':")
    assert "[lost_words" in problems[0]


def test_lost_negation_is_critical():
    nll = rx()
    got = ehr_copy(nll, patient_instruction=PI.replace("Ta inte med", "Ta med"))
    problems = compare_lists([nll], shown(got), RULES)
    assert len(problems) == 1
    assert "[lost_negation/critical]" in problems[0]
    assert "inte" in problems[0]


def test_crlf_and_lf_are_the_same_text():
    nll = rx(patient_instruction=PI.replace("\n", "\r\n"))  # release N+1 line breaks
    assert compare_lists([nll], shown(ehr_copy(nll, patient_instruction=PI)), RULES) == []
    nll_lf = rx()
    assert compare_lists([nll_lf], shown(ehr_copy(nll_lf, patient_instruction=PI.replace("\n", "\r\n"))),
                         RULES) == []


def test_lone_cr_dropped_joins_lines():
    nll = rx(patient_instruction="Rad ett\rRad två\rRad tre")  # a lone CR is a line break too
    got = ehr_copy(nll, patient_instruction="Rad ettRad tvåRad tre")
    problems = compare_lists([nll], shown(got), RULES)
    assert len(problems) == 1
    assert "[line_breaks_lost" in problems[0]


def test_missing_administration_instruction():
    nll = rx()
    problems = compare_lists([nll], shown(ehr_copy(nll, admin=None)), RULES)
    assert len(problems) == 1
    assert problems[0].startswith("missing_field:")
    assert "administration instruction" in problems[0] and "Tas med ett glas vatten" in problems[0]


def test_blank_field_counts_as_missing():
    nll = rx()
    problems = compare_lists([nll], shown(ehr_copy(nll, patient_instruction="")), RULES)
    assert [p.split(":")[0] for p in problems] == ["missing_field"]
    assert "patient instruction" in problems[0]


def test_field_absent_in_nll_is_not_required_in_ehr():
    nll = rx(admin=None, note="", patient_instruction=None, absent="masked")
    assert compare_lists([nll], shown(ehr_copy(nll)), RULES) == []


def test_missing_prescription():
    a, b = rx("rx-1"), rx("rx-2", "Waran 2,5 mg")
    problems = compare_lists([a, b], shown(ehr_copy(a)), RULES)
    assert len(problems) == 1
    assert problems[0].startswith("missing_prescription:") and "Waran 2,5 mg" in problems[0]


def test_wrong_version():
    nll = rx(version="2")
    problems = compare_lists([nll], shown(ehr_copy(nll, version="1")), RULES)
    assert len(problems) == 1
    assert problems[0].startswith("wrong_version:")
    assert "version 2" in problems[0] and "version 1" in problems[0]


def test_unavailable_is_never_compared_as_an_empty_list():
    problems = compare_lists([rx()], ShownList(False, message="NLL unavailable: timeout"), RULES)
    assert problems == ["nll_unavailable: the EHR could not show the list: NLL unavailable: timeout"]
    # even when NLL holds nothing: "unavailable" is not "no medications"
    assert compare_lists([], ShownList(False, message="x"), RULES)[0].startswith("nll_unavailable:")


def test_items_with_modifier_extension_are_skipped():
    flagged = rx("rx-9", "Okänd", modifiers=(UNKNOWN_MODIFIER,))
    normal = rx("rx-1")
    assert compare_lists([flagged, normal], shown(ehr_copy(normal)), RULES) == []
    # the unflagged one is still checked
    assert compare_lists([flagged, normal], shown(), RULES)[0].startswith("missing_prescription:")


def test_every_problem_of_several_items_is_reported():
    a, b = rx("rx-1"), rx("rx-2", "Waran 2,5 mg", version="3")
    got_a = ehr_copy(a, note="Efter")
    got_b = ehr_copy(b, version="2", admin=None)
    kinds = sorted(p.split(":")[0].split(" ")[0] for p in compare_lists([a, b], shown(got_a, got_b), RULES))
    assert kinds == ["missing_field", "note", "wrong_version"]


# -- match -----------------------------------------------------------------------------------------

def test_match_by_same_id():
    nll = rx("rx-1")
    target = rx("rx-1", "Annat namn")
    assert match(nll, [rx("rx-2"), target]) is target


def test_match_by_nll_prefixed_id():
    nll = rx("rx-1")
    target = rx("nll-rx-1", "Annat namn")
    assert match(nll, [rx("rx-2", "Waran"), target]) is target


def test_match_by_unique_medication_name():
    nll = rx("rx-1", "Alvedon")
    target = rx("ehr-77", "Alvedon")
    assert match(nll, [rx("ehr-78", "Waran"), target]) is target


def test_match_ambiguous_medication_is_none():
    nll = rx("rx-1", "Alvedon")
    assert match(nll, [rx("ehr-1", "Alvedon"), rx("ehr-2", "Alvedon")]) is None


def test_match_nothing():
    assert match(rx("rx-1", "Alvedon"), [rx("ehr-1", "Waran")]) is None
    assert match(rx("rx-1", "Alvedon"), []) is None


# -- EHRMedicationClient -------------------------------------------------------------------------

def ehr_profile() -> Profile:
    return Profile(name="ehr-unit", kind="external", description="",
                   endpoints={"ehr_fhir": Endpoint("ehr_fhir", "http", "ehr.test.example", 443,
                                                   base_url=EHR_BASE, tls=True)},
                   timeouts=Timeouts(connect=1.0, read=2.0))


@pytest.fixture
def ehr():
    client = EHRMedicationClient(ehr_profile())
    yield client
    client.fhir.transport.close()


def ehr_mr(rid: str, *, version: str = "1", admin_in_extension: bool = False) -> dict:
    dosage = {"text": "1x3", "patientInstruction": PI}
    if admin_in_extension:
        dosage["extension"] = [{"url": ADMIN_EXTENSION, "valueString": "Med vatten"}]
    else:
        dosage["additionalInstruction"] = [{"text": "Med vatten"}]
    return {"resourceType": "MedicationRequest", "id": rid, "meta": {"versionId": version},
            "status": "active", "intent": "plan", "medicationCodeableConcept": {"text": "Alvedon"},
            "subject": {"reference": "Patient/pat-1"}, "dosageInstruction": [dosage]}


def test_ehr_503_is_unavailable_with_diagnostics(ehr, requests_mock):
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "transient", "diagnostics": "NLL unavailable: NLL did not answer"}]}
    requests_mock.get(f"{EHR_BASE}/MedicationRequest", json=outcome, status_code=503, headers=JSON_HDR)
    got = ehr.medication_list("pat-1")
    assert got.available is False
    assert got.prescriptions == []
    assert "NLL unavailable: NLL did not answer" in got.message
    assert requests_mock.last_request.qs == {"patient": ["pat-1"]}


@pytest.mark.parametrize("status", [502, 504])
def test_ehr_gateway_errors_are_unavailable(ehr, requests_mock, status):
    requests_mock.get(f"{EHR_BASE}/MedicationRequest", text="bad gateway", status_code=status,
                      headers={"Content-Type": "text/plain"})
    got = ehr.medication_list("pat-1")
    assert got.available is False and str(status) in got.message


def test_ehr_bundle_with_outcome_entry_gives_prescriptions_and_warnings(ehr, requests_mock):
    body = {"resourceType": "Bundle", "type": "searchset", "total": 2, "entry": [
        {"resource": ehr_mr("nll-rx-1", version="2"), "search": {"mode": "match"}},
        {"resource": ehr_mr("nll-rx-2", admin_in_extension=True), "search": {"mode": "match"}},
        {"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "not-supported", "diagnostics": "prescription rx-3 withheld"},
            {"severity": "warning", "code": "not-supported", "diagnostics": "prescription rx-4 withheld"}]},
         "search": {"mode": "outcome"}}]}
    requests_mock.get(f"{EHR_BASE}/MedicationRequest", json=body, headers=JSON_HDR)
    got = ehr.medication_list("pat-1")
    assert got.available is True
    assert [(p.id, p.version, p.administration_instruction) for p in got.prescriptions] == [
        ("nll-rx-1", "2", "Med vatten"), ("nll-rx-2", "1", "Med vatten")]
    assert got.prescriptions[0].patient_instruction == PI
    assert got.warnings == ["prescription rx-3 withheld", "prescription rx-4 withheld"]


def test_ehr_empty_bundle_is_an_available_empty_list(ehr, requests_mock):
    requests_mock.get(f"{EHR_BASE}/MedicationRequest", json={"resourceType": "Bundle", "type": "searchset",
                                                             "total": 0}, headers=JSON_HDR)
    got = ehr.medication_list("pat-1")
    assert got.available is True and got.prescriptions == [] and got.warnings == []


def test_ehr_404_raises_not_unavailable(ehr, requests_mock):
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-found", "diagnostics": "Patient/pat-x not found"}]}
    requests_mock.get(f"{EHR_BASE}/MedicationRequest", json=outcome, status_code=404, headers=JSON_HDR)
    with pytest.raises(FHIRError) as info:
        ehr.medication_list("pat-x")
    assert info.value.status == 404 and "pat-x not found" in str(info.value)


def test_ehr_non_bundle_is_a_protocol_error(ehr, requests_mock):
    requests_mock.get(f"{EHR_BASE}/MedicationRequest", json=ehr_mr("x"), headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="MedicationRequest for a medication list"):
        ehr.medication_list("pat-1")


def test_ehr_malformed_bundle_entries_are_a_protocol_error(ehr, requests_mock):
    requests_mock.get(f"{EHR_BASE}/MedicationRequest",
                      json={"resourceType": "Bundle", "type": "searchset", "entry": ["x"]}, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="malformed Bundle"):
        ehr.medication_list("pat-1")


def test_read_prescription_roundtrip_of_ehr_shape():
    p = read_prescription(ehr_mr("nll-rx-5", version="4"))
    assert (p.id, p.version, p.dosage_text, p.administration_instruction) == ("nll-rx-5", "4", "1x3", "Med vatten")
