"""FHIR read as servers answer (issue 16, part 4), against requests-mock: every dosage step (a taper
shown as its first step fails), every page of a search (bounded), warnings from ``details.text`` and
``diagnostics``, ``medicationReference`` resolved, a Binary answered as ``application/json``, the
contentType charset of inline data and of a Binary, and a report with text/plain + text/html + PDF
forms read by the one read-back reader (the PDF "not checked")."""

from __future__ import annotations

import base64
import uuid

import pytest
import requests_mock as rm

from genrep.config.contracts import load_radiology
from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.errors import FHIRError, ProtocolError
from genrep.integrations.medication_list import EHRMedicationClient, compare_lists
from genrep.integrations.nll import PNR_SYSTEM, NLLClient, read_prescription
from genrep.integrations.radiology import RadiologyClient
from genrep.results.failure_kinds import kinds_in
from genrep.text.fidelity import TextRules
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.representations import decode_inline
from genrep.transport.fhir import FHIRClient, issue_text, issue_texts
from genrep.transport.http import HttpTransport

NLL_BASE = "https://nll.test.example/fhir"
EHR_BASE = "https://ehr.test.example/fhir"
JSON_HDR = {"Content-Type": "application/fhir+json; charset=utf-8"}
RULES = TextRules()
TAPER = ["Dag 1-3: 4 tabletter på morgonen.", "Dag 4-6: 2 tabletter på morgonen.",
         "Dag 7-9: 1 tablett på morgonen, sedan uppehåll."]


def mr(rid: str, *, steps=("1 tablett 3 gånger dagligen.",), sequence: bool = False, medication=None,
       contained=None, version: str = "1") -> dict:
    dosage = []
    for n, text in enumerate(steps):
        d = {"text": f"steg {n + 1}", "patientInstruction": text}
        if sequence:
            d["sequence"] = n + 1
        dosage.append(d)
    res = {"resourceType": "MedicationRequest", "id": rid, "meta": {"versionId": version},
           "status": "active", "intent": "order",
           **(medication or {"medicationCodeableConcept": {"text": f"Prednisolon {rid}"}}),
           "subject": {"reference": "Patient/pat-1"}, "dosageInstruction": dosage}
    if contained:
        res["contained"] = contained
    return res


def page(resources, next_url: str | None = None, base: str = NLL_BASE) -> dict:
    body = {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}
    if next_url:
        body["link"] = [{"relation": "next", "url": next_url}]
    return body


def profile() -> Profile:
    return Profile(name="servers-answer", kind="external", description="requests-mock", timeouts=Timeouts(1.0, 2.0),
                   endpoints={"nll_fhir": Endpoint("nll_fhir", "http", "nll.test.example", 443, base_url=NLL_BASE,
                                                   tls=True),
                              "ehr_fhir": Endpoint("ehr_fhir", "http", "ehr.test.example", 443, base_url=EHR_BASE,
                                                   tls=True)})


@pytest.fixture(scope="module")
def allowlist() -> Allowlist:
    return Allowlist.load()


@pytest.fixture
def nll(allowlist):
    client = NLLClient(profile(), IdentityGuard(allowlist))
    yield client
    client.fhir.transport.close()


@pytest.fixture
def ehr():
    client = EHRMedicationClient(profile())
    yield client
    client.fhir.transport.close()


@pytest.fixture
def pnr(allowlist) -> str:
    return allowlist.pick(0, kind="personnummer").number


def nll_search(pnr: str) -> str:
    return f"{NLL_BASE}/MedicationRequest?patient.identifier={PNR_SYSTEM}|{pnr}"


# -- every dosage step ---------------------------------------------------------------------------------

def test_every_dosage_step_is_read_in_sequence_order():
    rx = read_prescription(mr("rx-1", steps=TAPER, sequence=True))
    assert [s.patient_instruction for s in rx.dosage] == TAPER
    assert rx.patient_instruction == TAPER[0]  # the one-line view: the first step
    shuffled = mr("rx-1", steps=TAPER, sequence=True)
    shuffled["dosageInstruction"].reverse()
    assert [s.patient_instruction for s in read_prescription(shuffled).dosage] == TAPER


def test_a_taper_shown_as_its_first_step_fails_the_comparison():
    nll_rx = read_prescription(mr("rx-1", steps=TAPER, sequence=True))
    first_only = read_prescription(mr("nll-rx-1", steps=TAPER[:1], sequence=True))
    problems = compare_lists([nll_rx], shown_list(first_only), RULES)
    assert len(problems) == 2 and kinds_in("\n".join(problems)) == ["missing_field"]
    assert "dosage step 2 of 3" in problems[0] and "Dag 4-6" in problems[0]
    assert "dosage step 3 of 3" in problems[1]
    whole = read_prescription(mr("nll-rx-1", steps=TAPER, sequence=True))
    assert compare_lists([nll_rx], shown_list(whole), RULES) == []


def test_a_changed_or_added_step_is_named():
    nll_rx = read_prescription(mr("rx-1", steps=TAPER))
    changed = read_prescription(mr("nll-rx-1", steps=[TAPER[0], TAPER[1].replace("2 tabletter", "3 tabletter"),
                                                      TAPER[2]]))
    problems = compare_lists([nll_rx], shown_list(changed), RULES)
    assert len(problems) == 1 and problems[0].startswith(
        "patient instruction (dosage step 2 of 3) of 'Prednisolon rx-1':")
    added = read_prescription(mr("nll-rx-1", steps=[*TAPER, "Dag 10: 1 tablett."]))
    problems = compare_lists([nll_rx], shown_list(added), RULES)
    assert len(problems) == 1 and problems[0].startswith("extra_lines: the EHR shows dosage step 4")


def shown_list(*items):
    from genrep.integrations.medication_list import ShownList
    return ShownList(True, list(items))


# -- every page -----------------------------------------------------------------------------------------

def test_nll_paged_answer_is_read_in_full_with_fresh_request_ids(nll, pnr, requests_mock):
    rxs = [mr(f"rx-{n}") for n in range(25)]
    requests_mock.get(nll_search(pnr), json=page(rxs[:20], f"{NLL_BASE}/MedicationRequest?_page=2"),
                      headers=JSON_HDR)
    requests_mock.get(f"{NLL_BASE}/MedicationRequest?_page=2", json=page(rxs[20:]), headers=JSON_HDR,
                      complete_qs=True)
    got = nll.prescriptions(pnr)
    assert [rx.id for rx in got] == [f"rx-{n}" for n in range(25)]  # was 20 of 25
    ids = [r.headers["x-request-id"] for r in requests_mock.request_history]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(uuid.UUID(i) for i in ids)


def test_ehr_paged_answer_is_read_in_full(ehr, requests_mock):
    rxs = [mr(f"nll-rx-{n}") for n in range(25)]
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?patient=pat-1",
                      json=page(rxs[:10], f"{EHR_BASE}/MedicationRequest?_getpages=a&_offset=10", EHR_BASE),
                      headers=JSON_HDR)
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?_getpages=a&_offset=10",
                      json=page(rxs[10:20], f"{EHR_BASE}/MedicationRequest?_getpages=a&_offset=20", EHR_BASE),
                      headers=JSON_HDR, complete_qs=True)
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?_getpages=a&_offset=20", json=page(rxs[20:], None, EHR_BASE),
                      headers=JSON_HDR, complete_qs=True)
    shown = ehr.medication_list("pat-1")
    assert len(shown.prescriptions) == 25 and requests_mock.call_count == 3


def test_endless_paging_is_an_error_naming_the_page_limit(nll, pnr, requests_mock):
    requests_mock.get(nll_search(pnr), json=page([mr("rx-0")], f"{NLL_BASE}/MedicationRequest?_page=n"),
                      headers=JSON_HDR)
    requests_mock.get(f"{NLL_BASE}/MedicationRequest?_page=n",
                      json=page([mr("rx-1")], f"{NLL_BASE}/MedicationRequest?_page=n"), headers=JSON_HDR)
    with pytest.raises(ProtocolError, match=r"^NLL: the answer has more than 50 pages \(the page limit\); "
                                            r"50 resources read"):
        nll.prescriptions(pnr)


def test_the_total_bound_is_an_error(requests_mock):
    t = HttpTransport(NLL_BASE, connect_timeout=1.0, read_timeout=2.0, check_host=lambda host: None)
    fhir = FHIRClient(t)
    requests_mock.get(f"{NLL_BASE}/MedicationRequest", json=page([mr(f"rx-{n}") for n in range(8)],
                                                                 f"{NLL_BASE}/MedicationRequest?_page=2"),
                      headers=JSON_HDR)
    requests_mock.get(f"{NLL_BASE}/MedicationRequest?_page=2", json=page([mr(f"rx-{n}") for n in range(8, 16)]),
                      headers=JSON_HDR, complete_qs=True)
    assert len(fhir.search_bundle("MedicationRequest", max_entries=16)) == 16
    with pytest.raises(ProtocolError, match=r"more than 10 resources in the answer \(the total bound\), 2 page"):
        fhir.search_bundle("MedicationRequest", max_entries=10)
    t.close()


def test_a_later_page_that_is_not_a_bundle_is_an_error(ehr, requests_mock):
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?patient=pat-1",
                      json=page([mr("nll-rx-1")], f"{EHR_BASE}/MedicationRequest?_page=2", EHR_BASE), headers=JSON_HDR)
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?_page=2", json=mr("nll-rx-2"), headers=JSON_HDR)
    with pytest.raises(ProtocolError, match=r"the EHR: expected a Bundle, got MedicationRequest \(page 2\)"):
        ehr.medication_list("pat-1")


# -- OperationOutcome warnings -------------------------------------------------------------------------

@pytest.mark.parametrize("issue,text", [
    ({"severity": "warning", "code": "processing", "details": {"text": "Förskrivning rx-3 undanhållen"}},
     "Förskrivning rx-3 undanhållen"),
    ({"severity": "warning", "code": "processing", "diagnostics": "rx-3 withheld: modifierExtension"},
     "rx-3 withheld: modifierExtension"),
    ({"severity": "warning", "code": "processing", "details": {"text": "Förskrivning undanhållen"},
      "diagnostics": "modifierExtension NLLUnknownModifier"},
     "Förskrivning undanhållen - modifierExtension NLLUnknownModifier"),
    ({"severity": "warning", "code": "processing", "details": {"text": "samma"}, "diagnostics": "samma"}, "samma"),
    ({"severity": "warning", "code": "processing",
      "details": {"coding": [{"code": "MSG_X", "display": "Undanhållen"}]}},
     "Undanhållen"),
])
def test_issue_text_reads_details_text_and_diagnostics(issue, text):
    assert issue_text(issue) == text


def test_ehr_warnings_from_details_text(ehr, requests_mock):
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "warning", "code": "processing", "details": {"text": "Förskrivning undanhållen: okänd "
                                                                          "modifierExtension"}},
        {"severity": "warning", "code": "processing"}]}
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?patient=pat-1",
                      json=page([mr("nll-rx-1"), outcome | {"id": "oo"}], None, EHR_BASE), headers=JSON_HDR)
    shown = ehr.medication_list("pat-1")
    assert shown.warnings == ["Förskrivning undanhållen: okänd modifierExtension", "(processing, no text)"]
    assert issue_texts(outcome, ("error",)) == []


def test_nll_warnings_are_kept(nll, pnr, requests_mock):
    outcome = {"resourceType": "OperationOutcome", "id": "oo", "issue": [
        {"severity": "information", "code": "informational", "details": {"text": "Listan är ofullständig"}}]}
    requests_mock.get(nll_search(pnr), json=page([mr("rx-1"), outcome]), headers=JSON_HDR)
    assert len(nll.prescriptions(pnr)) == 1 and nll.warnings == ["Listan är ofullständig"]


# -- medicationReference --------------------------------------------------------------------------------

MEDICATION = {"resourceType": "Medication", "id": "m1", "code": {"coding": [
    {"system": "urn:oid:1.2.752.129.2.1.1.1", "code": "20010101000011", "display": "Waran 2,5 mg tablett"}]}}


def test_contained_medication_reference_is_resolved():
    contained = dict(MEDICATION, id="med", code={"text": "Alvedon 500 mg tablett"})
    rx = read_prescription(mr("rx-1", medication={"medicationReference": {"reference": "#med"}}, contained=[contained]))
    assert rx.medication == "Alvedon 500 mg tablett"
    with pytest.raises(ProtocolError, match="#nope names no contained resource"):
        read_prescription(mr("rx-1", medication={"medicationReference": {"reference": "#nope"}}))


def test_referenced_medication_is_read_once_with_nll_headers(nll, pnr, requests_mock):
    ref = {"medicationReference": {"reference": "Medication/m1"}}
    requests_mock.get(nll_search(pnr), json=page([mr("rx-1", medication=ref), mr("rx-2", medication=ref)]),
                      headers=JSON_HDR)
    med = requests_mock.get(f"{NLL_BASE}/Medication/m1", json=MEDICATION, headers=JSON_HDR)
    got = nll.prescriptions(pnr)
    assert [rx.medication for rx in got] == ["Waran 2,5 mg tablett"] * 2
    assert med.call_count == 1 and uuid.UUID(med.last_request.headers["x-request-id"])


def test_an_unreadable_medication_reference_is_an_error_not_a_nameless_prescription(ehr, requests_mock):
    ref = {"medicationReference": {"reference": "Medication/gone"}}
    requests_mock.get(f"{EHR_BASE}/MedicationRequest?patient=pat-1", json=page([mr("nll-rx-1", medication=ref)],
                                                                               None, EHR_BASE), headers=JSON_HDR)
    requests_mock.get(f"{EHR_BASE}/Medication/gone", status_code=404, headers=JSON_HDR, json={
        "resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]})
    with pytest.raises(FHIRError, match="404"):
        ehr.medication_list("pat-1")
    requests_mock.get(f"{EHR_BASE}/Medication/gone", json={"resourceType": "Patient", "id": "gone"}, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="is a Patient, not a Medication"):
        ehr.medication_list("pat-1")


# -- Binary and inline data -----------------------------------------------------------------------------

@pytest.fixture
def fhir():
    t = HttpTransport(EHR_BASE, connect_timeout=1.0, read_timeout=2.0, check_host=lambda host: None)
    yield FHIRClient(t)
    t.close()


TEXT = "Lungröntgen: ingen pneumoni.\nSlutsats: utan anmärkning, åäö."


@pytest.mark.parametrize("answer_type", ["application/json", "application/fhir+json",
                                         "application/json; charset=utf-8"])
def test_a_binary_resource_answered_as_json_is_read(fhir, requests_mock, answer_type):
    body = {"resourceType": "Binary", "id": "b1", "contentType": "text/plain; charset=ISO-8859-1",
            "data": base64.b64encode(TEXT.encode("latin-1")).decode("ascii")}
    requests_mock.get(f"{EHR_BASE}/Binary/b1", json=body, headers={"Content-Type": answer_type})
    assert fhir.binary_text("Binary/b1", "text/plain") == TEXT
    assert requests_mock.last_request.headers["Accept"] == "text/plain"


def test_a_binary_of_another_type_is_refused(fhir, requests_mock):
    body = {"resourceType": "Binary", "id": "b1", "contentType": "application/pdf", "data": "JVBERi0xLjQK"}
    requests_mock.get(f"{EHR_BASE}/Binary/b1", json=body, headers={"Content-Type": "application/json"})
    with pytest.raises(ProtocolError, match="asked for text/plain, got a Binary of application/pdf"):
        fhir.binary_text("Binary/b1", "text/plain")


@pytest.mark.parametrize("charset", ["ISO-8859-1", "windows-1252", "utf-16", "ISO-8859-15"])
def test_raw_binary_and_inline_data_honour_the_charset(fhir, requests_mock, charset):
    requests_mock.get(f"{EHR_BASE}/Binary/b1", content=TEXT.encode(charset),
                      headers={"Content-Type": f"text/plain; charset={charset}"})
    assert fhir.binary_text("Binary/b1", "text/plain") == TEXT
    assert decode_inline(base64.b64encode(TEXT.encode(charset)).decode(), f"text/plain; charset={charset}") == TEXT


def test_inline_data_not_in_its_charset_is_a_clear_error_not_a_crash():
    with pytest.raises(ValueError, match="not valid utf-8"):
        decode_inline(base64.b64encode(TEXT.encode("latin-1")).decode(), "text/plain")
    with pytest.raises(ValueError, match="unknown charset"):
        decode_inline(base64.b64encode(b"x").decode(), "text/plain; charset=x-nonsense")


# -- the one read-back reader: text/plain + text/html + PDF -------------------------------------------

def test_plain_html_and_pdf_report_passes_with_the_pdf_not_checked():
    t = HttpTransport(EHR_BASE, connect_timeout=1.0, read_timeout=2.0, check_host=lambda host: None)
    client = RadiologyClient.__new__(RadiologyClient)
    client.contract, client.fhir = load_radiology(), FHIRClient(t)
    markup = "<html><body><p>Lungröntgen: ingen pneumoni.<br>Slutsats: utan anmärkning, åäö.</p></body></html>"
    res = {"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final", "code": {"text": "Lungröntgen"},
           "identifier": [{"value": "A1"}], "presentedForm": [
               {"contentType": "text/html; charset=utf-8", "data": base64.b64encode(markup.encode()).decode()},
               {"contentType": "text/plain; charset=ISO-8859-1", "url": "Binary/plain"},
               {"contentType": "application/pdf", "url": "Binary/pdf", "title": "Utlåtande (PDF)"}]}
    with rm.Mocker() as m:
        m.get(f"{EHR_BASE}/Binary/plain", json={"resourceType": "Binary",
                                                "contentType": "text/plain; charset=ISO-8859-1",
                                                "data": base64.b64encode(TEXT.encode("latin-1")).decode()},
              headers={"Content-Type": "application/json"})
        stored = client._stored(res, "A1")
        assert not any("pdf" in r.url for r in m.request_history)
    assert [(r.content_type, r.status) for r in stored.representations] == [
        ("text/html", "compared"), ("text/plain", "compared"), ("application/pdf", "not checked")]
    check = client.check(TEXT, stored)
    assert check.ok, check.message()
    assert check.notes == ["representation_not_checked: presentedForm[2] (application/pdf, Binary/pdf): "
                           "application/pdf is not compared (genrep compares text/plain and text/html)"]
    t.close()
