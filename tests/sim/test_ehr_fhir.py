"""The virtual EHR's FHIR R4 read API, over real HTTP on loopback, validated with fhir.resources R4B."""

from __future__ import annotations

import base64
import time
from dataclasses import replace

import pytest
import requests

from genrep import hl7
from genrep.errors import FHIRError, ReadTimeout
from genrep.transport.fhir import FHIRClient, validate
from genrep.transport.http import HttpTransport
from genrep.integrations.radiology import new_accession, new_control_id
from genrep.text.testdata import patient_for

from .conftest import (ack_code, adt, admin_url, fhir_get, health, mllp_client, oru, register,
                       reports_for, silent_server)

TEXT = ("Datortomografi hjärna.\n"
        "Ingen blödning. Inga tecken på infarkt.\n"
        "\tIndraget: ej expansivitet — «normalt».\n"
        "\n"
        "Sammanfattning: utan anmärkning, åäö ÅÄÖ é ü.  ")


@pytest.fixture
def fhir(ehr):
    profile, info = ehr
    client = FHIRClient(HttpTransport(info["fhir_base"], connect_timeout=2.0, read_timeout=5.0,
                                      check_host=profile.check_host))
    yield client
    client.transport.close()


@pytest.fixture
def stored(ehr, patient):
    """A registered patient with one final report: (info, accession, patient id, report id)."""
    _profile, info = ehr
    register(info, patient)
    accession, payload = oru(patient, TEXT)
    with mllp_client(info) as c:
        assert ack_code(c.send(payload)) == "AA"
    pid = fhir_get(info, "Patient", params={"identifier": patient.identifier}).json()["entry"][0]["resource"]["id"]
    [report] = reports_for(info, accession)
    return info, accession, pid, report["id"]


def assert_outcome(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/fhir+json")
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    validate(body)
    assert body["issue"][0]["severity"] == "error"
    assert body["issue"][0].get("diagnostics")
    return body


def test_metadata_is_a_capability_statement(ehr):
    _profile, info = ehr
    r = fhir_get(info, "metadata")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "CapabilityStatement"
    validate(body)
    assert body["fhirVersion"] == "4.0.1"
    types = {res["type"] for res in body["rest"][0]["resource"]}
    assert {"Patient", "DiagnosticReport", "Binary"} <= types


def test_diagnostic_report_search_by_identifier(fhir, stored):
    _info, accession, pid, rid = stored
    found = fhir.search("DiagnosticReport", {"identifier": accession})  # validates every resource
    assert [r["id"] for r in found] == [rid]
    report = found[0]
    assert report["identifier"][0]["value"] == accession
    assert report["status"] == "final"
    assert report["subject"]["reference"] == f"Patient/{pid}"
    assert report["category"][0]["coding"][0]["code"] == "RAD"
    assert report["presentedForm"][0]["contentType"].startswith("text/plain")
    # system|value form too
    assert [r["id"] for r in fhir.search("DiagnosticReport",
                                          {"identifier": f"urn:genrep:accession|{accession}"})] == [rid]
    assert fhir.search("DiagnosticReport", {"identifier": accession + "NOPE"}) == []


def test_diagnostic_report_search_by_patient_and_read(fhir, stored):
    _info, accession, pid, rid = stored
    for param in ("patient", "subject"):
        found = fhir.search("DiagnosticReport", {param: pid})
        assert rid in {r["id"] for r in found}
        assert all(r["subject"]["reference"] == f"Patient/{pid}" for r in found)
    assert fhir.search("DiagnosticReport", {"patient": "Patient/pat-does-not-exist"}) == []
    report = fhir.read("DiagnosticReport", rid)
    assert report["identifier"][0]["value"] == accession
    patient = fhir.read("Patient", pid)
    assert patient["id"] == pid


@pytest.mark.parametrize("path,params,status", [
    ("DiagnosticReport", {}, 400),
    ("DiagnosticReport", {"code": "RAD"}, 400),
    ("DiagnosticReport", {"identifier": "X", "date": "2025"}, 400),
    ("Patient", {}, 400),
    ("DiagnosticReport/dr-does-not-exist", {}, 404),
    ("Patient/pat-does-not-exist", {}, 404),
    ("Binary/dr-does-not-exist-text", {}, 404),
    ("Observation", {"patient": "x"}, 404),
])
def test_errors_are_operation_outcomes(ehr, fhir, path, params, status):
    _profile, info = ehr
    body = assert_outcome(fhir_get(info, path, params=params), status)
    if "code" in params or "date" in params:
        assert body["issue"][0]["code"] == "not-supported"
        assert ("code" if "code" in params else "date") in body["issue"][0]["diagnostics"]
    if not path.startswith("Binary"):
        with pytest.raises(FHIRError) as exc:
            fhir._json(path, params)
        assert exc.value.status == status and exc.value.outcome


def test_binary_as_text_plain_is_the_exact_utf8_text(ehr, stored, fhir):
    _profile, _ = ehr
    info, _accession, _pid, rid = stored
    report = fhir.read("DiagnosticReport", rid)
    url = report["presentedForm"][0]["url"]
    r = fhir_get(info, url, headers={"Accept": "text/plain"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].lower().replace(" ", "") == "text/plain;charset=utf-8"
    assert r.content == TEXT.encode("utf-8")
    assert fhir.binary_text(url, "text/plain") == TEXT


def test_binary_as_fhir_json_has_base64_data(stored, fhir):
    info, _accession, _pid, rid = stored
    url = fhir.read("DiagnosticReport", rid)["presentedForm"][0]["url"]
    r = fhir_get(info, url, headers={"Accept": "application/fhir+json"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "Binary"
    validate(body)
    assert body["contentType"].startswith("text/plain")
    assert base64.b64decode(body["data"], validate=True).decode("utf-8") == TEXT


def test_binary_with_unservable_accept_is_406(stored):
    info, _accession, _pid, rid = stored
    r = fhir_get(info, f"Binary/{rid}-text", headers={"Accept": "image/png"})
    assert_outcome(r, 406)


def test_admin_reset_clears_the_store(ehr, stored, patient, fhir):
    _profile, info = ehr
    _info, accession, pid, rid = stored
    registration = adt(patient)
    with mllp_client(info) as c:
        assert ack_code(c.send(registration)) == "AA"
    assert health(info)["counters"]["messages"] > 0
    r = requests.post(admin_url(info, "reset"), timeout=5)
    assert r.status_code == 200
    assert reports_for(info, accession) == []
    assert fhir.search("Patient", {"identifier": patient.identifier}) == []
    assert_outcome(fhir_get(info, f"DiagnosticReport/{rid}"), 404)
    assert_outcome(fhir_get(info, f"Patient/{pid}"), 404)
    assert_outcome(fhir_get(info, f"Binary/{rid}-text", headers={"Accept": "text/plain"}), 404)
    assert health(info)["counters"]["messages"] == 0
    # the same ADT (same MSH-10) sent again after the reset is processed again, not answered
    # from the remembered ACKs: the patient exists again
    with mllp_client(info) as c:
        assert ack_code(c.send(registration)) == "AA"
    assert len(fhir.search("Patient", {"identifier": patient.identifier})) == 1


def test_radiology_client_round_trip(rad, patient):
    """The orchestration layer end to end: register, send, read back, compare."""
    assert rad.register(patient).ack.code == "AA"
    acc = new_accession()
    report = hl7.Report(accession=acc, text=TEXT)
    ex = rad.send_message(rad.build_report(patient, report))
    assert ex.ack.code == "AA"
    reports, _waited = rad.read_back(acc, within=2.0)
    assert len(reports) == 1
    assert reports[0].text == TEXT
    assert rad.compare(TEXT, reports[0].text).ok


def test_fhir_client_read_timeout_against_silent_server():
    with silent_server() as port:
        client = FHIRClient(HttpTransport(f"http://127.0.0.1:{port}/fhir", connect_timeout=1.0,
                                          read_timeout=0.5))
        start = time.monotonic()
        with pytest.raises(ReadTimeout, match="0.5"):
            client.read("Patient", "x")
        elapsed = time.monotonic() - start
        client.transport.close()
    assert 0.45 <= elapsed < 0.5 + 4.0


def test_binary_accept_text_wildcard_gets_text(stored):
    info, _accession, _pid, rid = stored
    r = fhir_get(info, f"Binary/{rid}-text", headers={"Accept": "text/*"})
    assert r.status_code == 200
    assert r.content == TEXT.encode("utf-8")


def test_title_and_parent_accession_are_unescaped(ehr, patient, fhir):
    _profile, info = ehr
    register(info, patient)
    parent = new_accession()
    child = hl7.Report(accession=new_accession(), text="Tillägg: ingen förändring.",
                       title="Rtg & CT | höger ^ vänster", parent_accession=parent)
    message = hl7.build_oru(patient, child, control_id=new_control_id())
    assert "\\T\\" in message and "\\F\\" in message  # escaped on the wire
    with mllp_client(info) as c:
        assert ack_code(c.send(hl7.encode(message))) == "AA"
    [report] = fhir.search("DiagnosticReport", {"identifier": child.accession})
    assert report["code"]["text"] == child.title
    assert report["presentedForm"][0]["title"] == child.title
    assert report["extension"] == [{"url": "urn:genrep:parent-accession", "valueString": parent}]


def test_patient_without_given_name_is_still_a_valid_resource(ehr, allowlist, fhir):
    _profile, info = ehr
    who = allowlist.pick(4)
    nameless = replace(patient_for(who), given="")
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(nameless))) == "AA"
    [res] = fhir.search("Patient", {"identifier": who.number})  # validates against R4B
    assert res["name"] == [{"family": nameless.family}]
    assert res["birthDate"] == who.birth_date.isoformat()


def test_summary_count_gives_the_total_without_entries(ehr, patient):
    """Counting what was stored under load: ``_summary=count`` answers the total only."""
    _profile, info = ehr
    register(info, patient)
    pid = fhir_get(info, "Patient", params={"identifier": patient.identifier}).json()["entry"][0]["resource"]["id"]
    before = fhir_get(info, "DiagnosticReport", params={"patient": pid, "_summary": "count"}).json()
    assert before["resourceType"] == "Bundle" and "entry" not in before
    with mllp_client(info) as c:
        for _ in range(3):
            assert ack_code(c.send(oru(patient, "Ingen fraktur.")[1])) == "AA"
    after = fhir_get(info, "DiagnosticReport", params={"patient": pid, "_summary": "count"}).json()
    assert after["total"] == before["total"] + 3
    bad = fhir_get(info, "DiagnosticReport", params={"patient": pid, "_summary": "true"})
    assert_outcome(bad, 400)
