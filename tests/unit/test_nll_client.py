"""NLL client (genrep.integrations.nll) against requests-mock: headers, both release shapes, every failure mode."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
import requests

from genrep.config.profile import Endpoint, Profile, Timeouts, load_profile
from genrep.errors import ConfigError, ConnectTimeout, FHIRError, IdentityViolation, ProtocolError, ReadTimeout
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.integrations.nll import ADMIN_EXTENSION, DATA_ABSENT, PNR_SYSTEM, USER_AGENT, NLLAdmin, NLLClient, read_prescription

BASE = "https://nll.test.example/fhir"
JSON_HDR = {"Content-Type": "application/fhir+json; charset=utf-8"}
FOREIGN = "196408233234"  # checksum-valid personnummer that is NOT on the allowlist
UNKNOWN_MODIFIER = "http://electronichealth.se/fhir/StructureDefinition/NLLUnknownModifier"
FORMAT_EXT = "http://electronichealth.se/fhir/StructureDefinition/NLLPrescriptionFormat"
PI = "Ta 1 tablett 3 gånger dagligen\nvid smärta.\nTa inte med alkohol."


def _mr(rid: str, *, dosage: dict | None, version: str = "1", extra: dict | None = None) -> dict:
    res = {"resourceType": "MedicationRequest", "id": rid, "meta": {"versionId": version},
           "status": "active", "intent": "order",
           "medicationCodeableConcept": {"text": f"Medicine {rid}"},
           "subject": {"identifier": {"system": PNR_SYSTEM, "value": "191212121212"}}}
    if dosage is not None:
        res["dosageInstruction"] = [dosage]
    res.update(extra or {})
    return res


# Release N: administration instruction in additionalInstruction.text, \n line breaks
RX_N = _mr("rx-1", version="2", dosage={
    "text": "1x3", "patientInstruction": PI,
    "additionalInstruction": [{"text": "Tas med ett glas vatten"}]},
    extra={"note": [{"text": "Efter operation"}, {"text": "Kontroll om 2 v"}]})
# Release N+1: the same data; administration instruction moved into an extension, CRLF, an added element
RX_N1 = _mr("rx-1", version="2", dosage={
    "text": "1x3", "patientInstruction": PI.replace("\n", "\r\n"),
    "extension": [{"url": ADMIN_EXTENSION, "valueString": "Tas med ett glas vatten"}]},
    extra={"extension": [{"url": FORMAT_EXT, "valueCoding": {"code": "E"}}],
           "note": [{"text": "Efter operation"}, {"text": "Kontroll om 2 v"}]})
RX_ABSENT = _mr("rx-2", dosage={"_patientInstruction": {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}})
RX_MODIFIER = _mr("rx-3", dosage={"patientInstruction": "1 kapsel"},
                  extra={"modifierExtension": [{"url": UNKNOWN_MODIFIER, "valueBoolean": True}]})


def bundle(*resources) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{BASE}/MedicationRequest/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def make_profile(*, with_admin: bool = False) -> Profile:
    eps = {"nll_fhir": Endpoint("nll_fhir", "http", "nll.test.example", 443, base_url=BASE, tls=True)}
    if with_admin:
        eps["nll_admin"] = Endpoint("nll_admin", "http", "nll.test.example", 443,
                                    base_url="https://nll.test.example/admin", tls=True)
    return Profile(name="nll-unit", kind="external", description="requests-mock NLL", endpoints=eps,
                   timeouts=Timeouts(connect=1.5, read=4.0))


@pytest.fixture(scope="module")
def allowlist() -> Allowlist:
    return Allowlist.load()


@pytest.fixture(scope="module")
def pnr(allowlist) -> str:
    return allowlist.pick(0, kind="personnummer").number


@pytest.fixture
def client(allowlist):
    c = NLLClient(make_profile(), IdentityGuard(allowlist))
    yield c
    c.fhir.transport.close()


def search_url() -> str:
    return f"{BASE}/MedicationRequest"


# -- headers -------------------------------------------------------------------------------------

def test_every_request_carries_nll_headers_with_fresh_uuid(client, requests_mock, pnr):
    requests_mock.get(search_url(), json=bundle(RX_N), headers=JSON_HDR)
    requests_mock.get(f"{BASE}/$ping", json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": "pong"}]}, headers=JSON_HDR)
    client.prescriptions(pnr)
    client.prescriptions(pnr)
    client.ping()
    history = requests_mock.request_history
    assert len(history) == 3
    ids = []
    for req in history:
        rid = req.headers["x-request-id"]
        assert str(uuid.UUID(rid)) == rid.lower()  # a real UUID, not just any string
        assert req.headers["x-user-agent"] == USER_AGENT
        assert req.headers["User-Agent"] == USER_AGENT
        assert req.headers["Accept"] == "application/fhir+json"
        assert req.timeout == (1.5, 4.0)
        ids.append(rid)
    assert len(set(ids)) == 3, "x-request-id must differ per request"


def test_search_is_by_patient_identifier_with_system(client, requests_mock, pnr):
    requests_mock.get(search_url(), json=bundle(), headers=JSON_HDR)
    assert client.prescriptions(pnr) == []  # a valid, empty searchset is "no prescriptions"
    req = requests_mock.request_history[0]
    assert req.path == "/fhir/medicationrequest"
    assert requests.utils.unquote(req.url.split("?", 1)[1]) == f"patient.identifier={PNR_SYSTEM}|{pnr}"


# -- both release shapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("resource,instruction", [(RX_N, PI), (RX_N1, PI.replace("\n", "\r\n"))],
                         ids=["release-N", "release-N+1"])
def test_prescriptions_read_both_release_shapes(client, requests_mock, pnr, resource, instruction):
    requests_mock.get(search_url(), json=bundle(resource, RX_ABSENT, RX_MODIFIER), headers=JSON_HDR)
    rx, absent, modified = client.prescriptions(pnr)
    assert rx.id == "rx-1" and rx.medication == "Medicine rx-1" and rx.version == "2"
    assert rx.administration_instruction == "Tas med ett glas vatten"
    assert rx.patient_instruction == instruction  # the client reports NLL's text as NLL sent it
    assert rx.dosage_text == "1x3"
    assert rx.note == "Efter operation\nKontroll om 2 v"
    assert rx.absent_reason is None and rx.modifier_extensions == []
    assert rx.resource == resource

    assert absent.patient_instruction is None
    assert absent.absent_reason == "masked"
    assert absent.administration_instruction is None

    assert modified.modifier_extensions == [UNKNOWN_MODIFIER]


def test_release_shapes_from_the_simulator_module_read_the_same():
    """Cross-check with the simulator's own release functions: only line breaks differ."""
    from genrep.sim import nll_releases as rel
    model = {"id": "rx-9", "medication": "Waran", "patient_instruction": "a\nb", "dosage_text": "1x1",
             "administration_instruction": "Till kvällen", "note": "n", "version": 3}
    n = read_prescription(rel.medication_request(model, "191212121212", "N"))
    n1 = read_prescription(rel.medication_request(model, "191212121212", "N+1"))
    assert n.administration_instruction == n1.administration_instruction == "Till kvällen"
    assert (n.patient_instruction, n1.patient_instruction) == ("a\nb", "a\r\nb")
    assert n.version == n1.version == "3"


def test_entries_other_than_medicationrequest_are_skipped(client, requests_mock, pnr):
    body = bundle(RX_N)
    body["entry"].append({"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": "x"}]}, "search": {"mode": "outcome"}})
    requests_mock.get(search_url(), json=body, headers=JSON_HDR)
    assert [rx.id for rx in client.prescriptions(pnr)] == ["rx-1"]


def test_invalid_medicationrequest_is_a_protocol_error(client, requests_mock, pnr):
    bad = dict(RX_N, status=17)  # status must be a code
    requests_mock.get(search_url(), json=bundle(bad), headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="MedicationRequest"):
        client.prescriptions(pnr)


@pytest.mark.parametrize("entries", [["x"], [{"resource": "x"}], {"resource": RX_N}],
                         ids=["entry-string", "resource-string", "entry-not-list"])
def test_malformed_bundle_entries_are_a_protocol_error(client, requests_mock, pnr, entries):
    body = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    requests_mock.get(search_url(), json=body, headers=JSON_HDR)
    with pytest.raises(ProtocolError):
        client.prescriptions(pnr)


# -- failures: a missing list is never an empty list -----------------------------------------------

def test_read_timeout(client, requests_mock, pnr):
    requests_mock.get(search_url(), exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ReadTimeout, match="nll.test.example"):
        client.prescriptions(pnr)


def test_connect_timeout(client, requests_mock, pnr):
    requests_mock.get(search_url(), exc=requests.exceptions.ConnectTimeout)
    with pytest.raises(ConnectTimeout, match="nll.test.example"):
        client.prescriptions(pnr)


def test_503_with_operation_outcome(client, requests_mock, pnr):
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "transient", "diagnostics": "NLL underhåll pågår"}]}
    requests_mock.get(search_url(), json=outcome, status_code=503, headers=JSON_HDR)
    with pytest.raises(FHIRError) as info:
        client.prescriptions(pnr)
    assert info.value.status == 503
    assert "NLL underhåll pågår" in info.value.outcome
    assert "NLL underhåll pågår" in str(info.value)


def test_malformed_json(client, requests_mock, pnr):
    requests_mock.get(search_url(), text='{"resourceType": "Bundle", "entry": [', headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="malformed JSON"):
        client.prescriptions(pnr)


def test_wrong_content_type(client, requests_mock, pnr):
    requests_mock.get(search_url(), text="<html><body>NLL</body></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ProtocolError, match="text/html"):
        client.prescriptions(pnr)


def test_non_bundle_answer(client, requests_mock, pnr):
    requests_mock.get(search_url(), json=RX_N, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="MedicationRequest where a Bundle was expected"):
        client.prescriptions(pnr)


def test_operation_outcome_with_200_is_not_an_empty_list(client, requests_mock, pnr):
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "exception", "diagnostics": "backend down"}]}
    requests_mock.get(search_url(), json=outcome, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="OperationOutcome"):
        client.prescriptions(pnr)


def test_identifier_not_on_allowlist_refused_before_any_request(client, requests_mock):
    requests_mock.get(search_url(), json=bundle(RX_N), headers=JSON_HDR)
    with pytest.raises(IdentityViolation) as info:
        client.prescriptions(FOREIGN)
    assert requests_mock.request_history == []
    assert FOREIGN not in str(info.value)


# -- $patient-dosage-directions and $ping ------------------------------------------------------------

def test_dosage_directions(client, requests_mock):
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "patientInstruction", "valueString": "a\r\nb"},
        {"name": "patientInstructionFormatted", "valueString": "a\r\nb"},
        {"name": "administrationInstruction", "valueString": "Med vatten"},
        {"name": "dataAbsentReason", "valueCode": "masked"}]}
    m = requests_mock.get(f"{BASE}/MedicationRequest/rx-1/$patient-dosage-directions", json=params,
                          headers=JSON_HDR)
    out = client.dosage_directions("rx-1")
    assert out == {"patientInstruction": "a\r\nb", "patientInstructionFormatted": "a\r\nb",
                   "administrationInstruction": "Med vatten", "dataAbsentReason": "masked"}
    assert m.call_count == 1
    assert uuid.UUID(m.last_request.headers["x-request-id"])
    assert m.last_request.headers["x-user-agent"] == USER_AGENT


def test_dosage_directions_without_parameters_is_empty(client, requests_mock):
    requests_mock.get(f"{BASE}/MedicationRequest/rx-1/$patient-dosage-directions",
                      json={"resourceType": "Parameters"}, headers=JSON_HDR)
    assert client.dosage_directions("rx-1") == {}


def test_dosage_directions_wrong_resource_type(client, requests_mock):
    requests_mock.get(f"{BASE}/MedicationRequest/rx-1/$patient-dosage-directions", json=RX_N, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="Parameters"):
        client.dosage_directions("rx-1")


def test_ping(client, requests_mock):
    requests_mock.get(f"{BASE}/$ping", json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": "pong"}]}, headers=JSON_HDR)
    assert client.ping() == "pong"


def test_ping_503_raises(client, requests_mock):
    requests_mock.get(f"{BASE}/$ping", json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "transient", "diagnostics": "down"}]}, status_code=503, headers=JSON_HDR)
    with pytest.raises(FHIRError) as info:
        client.ping()
    assert info.value.status == 503


# -- admin ---------------------------------------------------------------------------------------

def test_admin_needs_admin_endpoint(allowlist):
    with pytest.raises(ConfigError) as info:
        NLLAdmin(make_profile(), IdentityGuard(allowlist))
    msg = str(info.value)
    assert "nll-unit" in msg and "no NLL admin endpoint" in msg and "virtual environment" in msg


def test_admin_needs_admin_endpoint_from_yaml_profile(tmp_path, allowlist):
    path = tmp_path / "nll-only.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: nll-only
        kind: external
        description: an NLL test endpoint only
        endpoints:
          nll_fhir: {{protocol: http, base_url: "{BASE}"}}
        """), encoding="utf-8")
    profile = load_profile(str(path), defects=())
    NLLClient(profile, IdentityGuard(allowlist)).fhir.transport.close()  # the FHIR side is fine
    with pytest.raises(ConfigError, match="no NLL admin endpoint"):
        NLLAdmin(profile, IdentityGuard(allowlist))


def test_admin_refuses_foreign_identifier_in_body_before_sending(requests_mock, allowlist, pnr):
    admin = NLLAdmin(make_profile(with_admin=True), IdentityGuard(allowlist))
    m = requests_mock.put(f"https://nll.test.example/admin/patients/{pnr}", json={"patient": pnr})
    admin.load(pnr, [{"id": "rx-1", "medication": "A"}])
    assert json.loads(m.last_request.text) == {"prescriptions": [{"id": "rx-1", "medication": "A"}]}
    with pytest.raises(IdentityViolation):
        admin.load(pnr, [{"id": "rx-1", "medication": "A", "note": f"anhörig {FOREIGN}"}])
    assert m.call_count == 1
    admin.close()


def test_admin_error_status_raises(requests_mock, allowlist):
    admin = NLLAdmin(make_profile(with_admin=True), IdentityGuard(allowlist))
    requests_mock.post("https://nll.test.example/admin/release", json={"error": "bad release"}, status_code=400)
    with pytest.raises(FHIRError) as info:
        admin.release("N+2")
    assert info.value.status == 400 and "bad release" in str(info.value)
    admin.close()


def test_admin_refuses_foreign_identifier_in_path_before_sending(requests_mock, allowlist):
    admin = NLLAdmin(make_profile(with_admin=True), IdentityGuard(allowlist))
    requests_mock.put(f"https://nll.test.example/admin/patients/{FOREIGN}", json={"patient": FOREIGN})
    with pytest.raises(IdentityViolation):
        admin.load(FOREIGN, [])
    assert requests_mock.request_history == []
    admin.close()
