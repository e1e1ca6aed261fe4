"""Provider contract drift (genrep.integrations.nll_drift) on the NLL contract and the two simulated releases."""

from __future__ import annotations

import copy
import json
import socket

import pytest

from genrep.integrations import nll_drift as drift
from genrep.config.contracts import load_nll
from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.errors import ConnectionRefused, IdentityViolation, ProtocolError
from genrep.integrations.nll import NLLClient
from genrep.sim import nll_releases as rel
from genrep.text.identities import Allowlist, IdentityGuard

PNR = "191212121212"
PI = "MedicationRequest.dosageInstruction.patientInstruction"
ADMIN = "MedicationRequest.dosageInstruction.additionalInstruction.text"
RX = [
    {"id": "rx-1", "medication": "Alvedon 500 mg tablett", "dosage_text": "1x3",
     "patient_instruction": "1 tablett 3 gånger dagligen\nvid smärta", "administration_instruction":
     "Tas med ett glas vatten", "note": "Högst 6 tabletter per dygn", "version": 2},
    {"id": "rx-2", "medication": "Omeprazol 20 mg kapsel", "patient_instruction": "1 kapsel på morgonen"},
    {"id": "rx-3", "medication": "Waran 2,5 mg", "patient_instruction_absent": "masked"},
]


@pytest.fixture(scope="module")
def contract():
    return load_nll()


def samples(release: str, rxs=RX) -> list[dict]:
    return [rel.medication_request(rx, PNR, release) for rx in rxs]


def sd(release: str) -> dict:
    return rel.structure_definition(release)


def test_release_n_has_no_drift(contract):
    report = drift.compare(contract, sd("N"), samples("N"))
    assert report.changes == [] and not report.breaking
    assert report.contract_release == "N" and report.provider_release == "N"
    assert report.samples_checked == 3
    assert "no drift" in report.render()
    assert report.to_dict()["changes"] == []


def test_release_n_plus_1_structure_only(contract):
    report = drift.compare(contract, sd("N+1"))
    by = {(c.kind, c.path): c for c in report.changes}
    assert report.kinds() == {"added", "limit-changed", "removed"}
    assert report.breaking
    added = by[("added", "MedicationRequest.extension:prescriptionFormat")]
    assert not added.breaking and "optional" in added.detail
    limit = by[("limit-changed", PI)]
    assert limit.breaking and "maxLength 512 -> 256 (characters)" in limit.detail
    removed = by[("removed", ADMIN)]
    assert removed.breaking
    assert "MedicationRequest.dosageInstruction.extension:administrationInstruction" in removed.detail
    moved_to = by[("added", "MedicationRequest.dosageInstruction.extension:administrationInstruction")]
    assert not moved_to.breaking and ADMIN in moved_to.detail
    assert len(report.changes) == 4


def test_release_n_plus_1_with_samples_shows_the_four_kinds(contract):
    report = drift.compare(contract, sd("N+1"), samples("N+1"))
    assert report.kinds() == {"added", "limit-changed", "removed", "line-breaks-changed"}
    lb = [c for c in report.changes if c.kind == "line-breaks-changed"]
    assert len(lb) == 1 and lb[0].breaking and lb[0].path == PI
    assert "'\\r\\n' (CRLF) in 1 of 2 sample text(s)" in lb[0].detail  # only rx-1 has a break
    # breaking rows first, in the table a tester reads
    text = report.render()
    lines = text.splitlines()
    assert lines[0].startswith("NLL contract drift: contract release N vs provider release N+1")
    assert any(l.startswith("BREAKING  limit-changed") and PI in l and "512 -> 256" in l for l in lines)
    assert any(l.startswith("info      added") for l in lines)
    flags = [l.split()[0] for l in lines[1:-1]]
    assert flags == ["BREAKING"] * 3 + ["info"] * 2
    assert lines[-1].startswith("5 change(s), 3 breaking; 3 sample resource(s) checked")
    d = report.to_dict()
    json.dumps(d)
    assert d["breaking"] is True and d["provider_release"] == "N+1" and len(d["changes"]) == 5


def test_samples_may_be_bundles(contract):
    bundle = rel.searchset(RX, PNR, "N+1")
    report = drift.compare(contract, sd("N"), [bundle])
    assert report.samples_checked == 3
    assert report.kinds() == {"line-breaks-changed"}


@pytest.mark.parametrize("text,expected", [("a\nb", set()), ("a\r\nb", {"\r\n"}), ("a\rb", {"\r"}),
                                           ("a\r\nb\nc\rd", {"\r\n", "\r"}), ("ab", set())])
def test_line_break_conventions(contract, text, expected):
    rx = [{"id": "rx-9", "medication": "X", "patient_instruction": text}]
    res = [rel.medication_request(rx[0], PNR, "N")]
    report = drift.compare(contract, sd("N"), res)
    found = {c.detail.split("'")[1].encode().decode("unicode_escape") for c in report.changes}
    assert found == expected
    assert all(c.breaking for c in report.changes)


def test_modifier_extension_in_samples_is_breaking(contract):
    res = samples("N", [{"id": "rx-5", "medication": "X", "modifier_extension": True}])
    report = drift.compare(contract, sd("N"), res)
    [c] = report.changes
    assert c.kind == "modifier-added" and c.breaking and rel.UNKNOWN_MODIFIER in c.detail


def test_modifier_extension_in_profile_is_breaking(contract):
    s = sd("N")
    s["differential"]["element"].append({"id": "MedicationRequest.modifierExtension:stop",
                                         "path": "MedicationRequest.modifierExtension", "sliceName": "stop",
                                         "min": 0, "max": "1", "type": [{"code": "Extension"}]})
    [c] = drift.compare(contract, s).changes
    assert c.kind == "modifier-added" and c.breaking


def _edit(s: dict, path: str, **values) -> dict:
    s = copy.deepcopy(s)
    for e in s["differential"]["element"]:
        if e["path"] == path:
            for k, v in values.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
    return s


@pytest.mark.parametrize("path,values,kind,breaking", [
    (PI, {"maxLength": 1024}, "limit-changed", True),            # raised on a relied-on text
    (PI, {"maxLength": None}, "limit-changed", True),            # dropped: unbounded
    ("MedicationRequest.dosageInstruction.route.text", {"maxLength": 512}, "limit-changed", False),
    ("MedicationRequest.dosageInstruction.route.text", {"maxLength": 100}, "limit-changed", True),
    ("MedicationRequest.status", {"max": "*"}, "changed", True),
    ("MedicationRequest.intent", {"type": [{"code": "string"}]}, "changed", False),
    ("MedicationRequest.note.text", {"type": [{"code": "string"}]}, "changed", True),
])
def test_element_changes(contract, path, values, kind, breaking):
    [c] = drift.compare(contract, _edit(sd("N"), path, **values)).changes
    assert (c.kind, c.path, c.breaking) == (kind, path, breaking)


def test_removed_not_relied_on_and_added_required(contract):
    s = sd("N")
    s["differential"]["element"] = [e for e in s["differential"]["element"]
                                    if e["path"] != "MedicationRequest.intent"]
    s["differential"]["element"].append({"path": "MedicationRequest.reasonCode", "min": 1, "max": "*",
                                         "type": [{"code": "CodeableConcept"}]})
    by = {c.kind: c for c in drift.compare(contract, s).changes}
    assert set(by) == {"removed", "added"}
    assert not by["removed"].breaking and by["removed"].path == "MedicationRequest.intent"
    assert by["added"].breaking and "required" in by["added"].detail


def test_other_profile_url_is_breaking(contract):
    s = sd("N")
    s["url"] = "http://example.org/Other"
    [c] = drift.compare(contract, s).changes
    assert c.kind == "changed" and c.breaking and c.path == "StructureDefinition.url"


@pytest.mark.parametrize("bad", [{"resourceType": "Bundle"}, [], {"resourceType": "StructureDefinition"},
                                 {"resourceType": "StructureDefinition", "differential": {"element": "x"}},
                                 {"resourceType": "StructureDefinition", "differential": {"element": [{}]}}])
def test_not_a_structure_definition(contract, bad):
    with pytest.raises(ProtocolError):
        drift.compare(contract, bad)


def test_values_at():
    res = rel.medication_request(RX[0], PNR, "N")
    assert drift.values_at(res, PI) == [RX[0]["patient_instruction"]]
    assert drift.values_at(res, ADMIN) == ["Tas med ett glas vatten"]
    assert drift.values_at(res, "MedicationRequest.nothing.here") == []


def nll_client(base_url: str, port: int, **timeouts) -> NLLClient:
    """An NLLClient for a provider at ``base_url`` (loopback), as a profile's ``nll_fhir`` endpoint."""
    ep = Endpoint("nll_fhir", "http", "127.0.0.1", port, base_url=base_url)
    profile = Profile(name="nll-drift", kind="external", description="", endpoints={"nll_fhir": ep},
                      timeouts=Timeouts(**timeouts))
    return NLLClient(profile, IdentityGuard(Allowlist.load()))


def test_check_provider_refused(contract):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    client = nll_client(f"http://127.0.0.1:{port}/fhir", port, connect=0.5, read=0.5)
    with pytest.raises(ConnectionRefused):
        drift.check_provider(client, contract, [PNR])
    assert client.fhir.transport.max_body_bytes == 32 * 1024 * 1024  # the check's bound is undone


FHIR_JSON = {"Content-Type": "application/fhir+json"}
MOCK_BASE = "http://127.0.0.1:9/fhir"


def test_check_provider_reads_profile_samples_and_capability(contract, requests_mock):
    requests_mock.get(f"{MOCK_BASE}/StructureDefinition/NLLMedicationRequest", json=sd("N+1"), headers=FHIR_JSON)
    requests_mock.get(f"{MOCK_BASE}/MedicationRequest", headers=FHIR_JSON, json={
        "resourceType": "Bundle", "type": "searchset", "total": 3,
        "entry": [{"resource": r} for r in samples("N+1")]})
    requests_mock.get(f"{MOCK_BASE}/metadata", headers=FHIR_JSON,
                      json={"resourceType": "CapabilityStatement", "status": "active", "date": "2024-11-05",
                            "kind": "instance", "fhirVersion": "5.0.0", "format": ["json"]})
    report = drift.check_provider(nll_client(MOCK_BASE, 9), contract, [PNR])
    assert report.source == MOCK_BASE and report.samples_checked == 3 and report.provider_release == "N+1"
    assert {"limit-changed", "line-breaks-changed", "removed"} <= report.kinds()
    assert any(c.path == "CapabilityStatement.fhirVersion" and c.breaking for c in report.changes)
    sent = requests_mock.request_history
    assert [r.path for r in sent] == ["/fhir/structuredefinition/nllmedicationrequest", "/fhir/medicationrequest",
                                      "/fhir/metadata"]
    assert all(r.headers["x-request-id"] and r.headers["x-user-agent"] for r in sent)  # NLL's headers


def test_check_provider_refuses_what_is_not_the_profile(contract, requests_mock):
    requests_mock.get(f"{MOCK_BASE}/StructureDefinition/NLLMedicationRequest", headers=FHIR_JSON,
                      json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]})
    with pytest.raises(ProtocolError, match="expected StructureDefinition, got OperationOutcome"):
        drift.check_provider(nll_client(MOCK_BASE, 9), contract)
    bad = dict(sd("N"), status=["not", "a", "code"])  # a StructureDefinition that is not valid FHIR R4
    requests_mock.get(f"{MOCK_BASE}/StructureDefinition/NLLMedicationRequest", json=bad, headers=FHIR_JSON)
    with pytest.raises(ProtocolError, match="invalid FHIR R4 StructureDefinition"):
        drift.check_provider(nll_client(MOCK_BASE, 9), contract)


def test_check_provider_sends_no_identity_off_the_allowlist(contract, requests_mock):
    requests_mock.get(f"{MOCK_BASE}/StructureDefinition/NLLMedicationRequest", json=sd("N"), headers=FHIR_JSON)
    with pytest.raises(IdentityViolation):
        drift.check_provider(nll_client(MOCK_BASE, 9), contract, ["196408233234"])  # not on the allowlist
    assert [r.path for r in requests_mock.request_history] == ["/fhir/structuredefinition/nllmedicationrequest"]


def test_a_provider_on_another_fhir_version_is_breaking_drift():
    from genrep.integrations import nll_drift as drift_module
    from genrep.config.contracts import load_nll
    from genrep.sim import nll_releases
    contract = load_nll()
    sd = nll_releases.structure_definition("N")
    ok = drift_module.compare(contract, sd, (), {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"})
    assert not ok.breaking
    r5 = drift_module.compare(contract, sd, (), {"resourceType": "CapabilityStatement", "fhirVersion": "5.0.0"})
    hits = [c for c in r5.changes if c.path == "CapabilityStatement.fhirVersion"]
    assert r5.breaking and hits and "5.0.0" in hits[0].detail
