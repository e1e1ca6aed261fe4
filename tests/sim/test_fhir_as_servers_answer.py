"""FHIR read as servers answer, over real sockets (issue 16, part 4): NLL and an EHR that page their
medication lists (20 + 5), give a taper as three dosage steps, name medications by reference and put
their warnings in ``details.text``; a radiology report with text/html, text/plain (a Binary answered
as ``application/json``, ISO-8859-1) and PDF forms. The server is ``fhir_files_server`` (a thread on
loopback, no genrep code)."""

from __future__ import annotations

import base64

import pytest

from genrep.config.contracts import load_radiology
from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.integrations.medication_list import EHRMedicationClient, compare_lists
from genrep.integrations.nll import PNR_SYSTEM, NLLClient
from genrep.integrations.radiology import RadiologyClient
from genrep.results.failure_kinds import kinds_in
from genrep.text.fidelity import TextRules
from genrep.text.identities import Allowlist, IdentityGuard

from .fhir_files_server import FHIRFilesServer

TAPER = ["Dag 1-3: 4 tabletter på morgonen.", "Dag 4-6: 2 tabletter på morgonen.",
         "Dag 7-9: 1 tablett på morgonen, sedan uppehåll."]
REPORT = "Lungröntgen.\nIngen pneumoni. Inga pleuravätskor.\nSlutsats: utan anmärkning."


def mr(rid: str, steps, medication: dict) -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "meta": {"versionId": "1"}, "status": "active",
            "intent": "order", **medication, "subject": {"reference": "Patient/pat-1"},
            "dosageInstruction": [{"sequence": n + 1, "text": f"steg {n + 1}", "patientInstruction": s}
                                  for n, s in enumerate(steps)]}


def medication_list(prefix: str, taper_steps: int) -> list[dict]:
    """25 prescriptions: 23 ordinary, one taper, one by a referenced Medication."""
    out = [mr(f"{prefix}rx-{n}", [f"{n % 3 + 1} tablett(er) dagligen."],
              {"medicationCodeableConcept": {"text": f"Läkemedel {n} 10 mg tablett"}}) for n in range(23)]
    out.append(mr(f"{prefix}rx-taper", TAPER[:taper_steps],
                  {"medicationCodeableConcept": {"text": "Prednisolon 5 mg"}}))
    out.append(mr(f"{prefix}rx-ref", ["1 tablett på kvällen."],
                  {"medicationReference": {"reference": "Medication/waran"}}))
    return out


def pages(resources: list[dict], first: str, then: str, warning: dict | None = None) -> dict:
    p1 = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
          "link": [{"relation": "next", "url": "{base}/" + then}],
          "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources[:20]]}
    p2 = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
          "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources[20:]]}
    if warning:
        p2["entry"].append({"resource": warning, "search": {"mode": "outcome"}})
    return {first: {"json": p1}, then: {"json": p2}}


WARFARIN = {"resourceType": "Medication", "id": "waran", "code": {"coding": [
    {"system": "urn:oid:1.2.752.129.2.1.1.1", "code": "19750101000088", "display": "Waran 2,5 mg tablett"}]}}
WITHHELD = {"resourceType": "OperationOutcome", "id": "oo", "issue": [
    {"severity": "warning", "code": "processing", "details": {"text": "En förskrivning undanhålls: okänd "
                                                                      "modifierExtension"}}]}


@pytest.fixture(scope="module")
def allowlist() -> Allowlist:
    return Allowlist.load()


@pytest.fixture
def server(allowlist):
    pnr = allowlist.pick(0, kind="personnummer").number
    routes = {"Medication/waran": {"json": WARFARIN}}
    routes |= pages(medication_list("", 3), f"MedicationRequest?patient.identifier={PNR_SYSTEM}|{pnr}",
                    "MedicationRequest?_getpages=nll1&_offset=20")
    routes |= pages(medication_list("nll-", 3), "MedicationRequest?patient=pat-1",
                    "MedicationRequest?_getpages=ehr1&_offset=20", WITHHELD)
    routes |= pages(medication_list("nll-", 1), "MedicationRequest?patient=pat-2",
                    "MedicationRequest?_getpages=ehr2&_offset=20")
    srv = FHIRFilesServer(routes)
    yield srv, pnr
    srv.close()


def profile(srv: FHIRFilesServer) -> Profile:
    eps = {name: Endpoint(name, "http", "127.0.0.1", srv.port, base_url=srv.base) for name in ("nll_fhir", "ehr_fhir")}
    eps["radiology_mllp"] = Endpoint("radiology_mllp", "mllp", "127.0.0.1", srv.port)  # never used: reads only
    return Profile(name="fhir-files", kind="external", description="loopback FHIR files", endpoints=eps,
                   timeouts=Timeouts(2.0, 5.0))


def test_nll_and_ehr_lists_read_in_full_and_the_taper_compared_step_by_step(server, allowlist):
    srv, pnr = server
    nll = NLLClient(profile(srv), IdentityGuard(allowlist))
    ehr = EHRMedicationClient(profile(srv))
    try:
        nll_items = nll.prescriptions(pnr)
        assert len(nll_items) == 25  # 20 before paging was followed
        assert next(rx for rx in nll_items if rx.id == "rx-ref").medication == "Waran 2,5 mg tablett"
        assert [s.patient_instruction for s in next(rx for rx in nll_items if rx.id == "rx-taper").dosage] == TAPER
        faithful = ehr.medication_list("pat-1")
        assert len(faithful.prescriptions) == 25
        assert faithful.warnings == ["En förskrivning undanhålls: okänd modifierExtension"]
        assert compare_lists(nll_items, faithful, TextRules()) == []
        first_step_only = ehr.medication_list("pat-2")
        problems = compare_lists(nll_items, first_step_only, TextRules())
        assert kinds_in("\n".join(problems)) == ["missing_field"] and len(problems) == 2
        assert "dosage step 2 of 3 of 'Prednisolon 5 mg'" in problems[0]
    finally:
        nll.fhir.transport.close()
        ehr.fhir.transport.close()
    medication_reads = [path for _m, path, _h in srv.requests if path.endswith("/Medication/waran")]
    assert len(medication_reads) == 3  # once per list read, not once per prescription


def test_report_with_html_plain_and_pdf_passes_with_the_pdf_not_checked(server, allowlist):
    srv, _pnr = server
    markup = "<html><body><p>" + "<br>".join(REPORT.split("\n")) + "</p></body></html>"
    report = {"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final", "code": {"text": "Lungröntgen"},
              "identifier": [{"system": "urn:ris:accession", "value": "ACC-1"}],
              "presentedForm": [
                  {"contentType": "text/html; charset=utf-8", "data": base64.b64encode(markup.encode()).decode()},
                  {"contentType": "text/plain; charset=ISO-8859-1", "url": "Binary/plain-1"},
                  {"contentType": "application/pdf", "url": "Binary/pdf-1"}]}
    srv.set_routes({
        "DiagnosticReport?identifier=ACC-1": {"json": {"resourceType": "Bundle", "type": "searchset",
                                                       "entry": [{"resource": report}]}},
        "Binary/plain-1": {"json": {"resourceType": "Binary", "contentType": "text/plain; charset=ISO-8859-1",
                                    "data": base64.b64encode(REPORT.encode("latin-1")).decode()},
                           "content_type": "application/json"}})
    client = RadiologyClient(profile(srv), load_radiology(), IdentityGuard(allowlist))
    try:
        [stored] = client.find_reports("ACC-1")
        check = client.check(REPORT, stored)
    finally:
        client.close()
    assert check.ok, check.message()
    assert [(r.content_type, r.status) for r in stored.representations] == [
        ("text/html", "compared"), ("text/plain", "compared"), ("application/pdf", "not checked")]
    assert check.notes and check.notes[0].startswith("representation_not_checked: presentedForm[2] (application/pdf")
    assert not any("pdf-1" in path for _m, path, _h in srv.requests)
