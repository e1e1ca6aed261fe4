"""NLL (Nationella läkemedelslistan) client: the harness reads the expected text from NLL itself.

Scenarios compare what the EHR shows with what NLL holds, read over NLL's FHIR R4 API with the
headers NLL requires (``x-request-id``, ``x-user-agent``). That keeps the same scenario valid
against a real NLL test environment, where the harness cannot plant data. ``NLLAdmin`` plants
test content and switches releases, and exists only in the virtual environment; faults go through
``genrep.faults`` (target ``nll``), like every other runtime fault.

A missing list is never an empty list: every failure (timeout, 503, malformed JSON, wrong content
type, an OperationOutcome) raises a specific error; only a valid, empty searchset Bundle is "no
prescriptions".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from genrep.config.profile import Profile
from genrep.errors import ConfigError, FHIRError, ProtocolError
from genrep.transport.fhir import FHIRClient, validate
from genrep.transport.endpoints import http_transport_for
from genrep.text.identities import IdentityGuard

PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
ADMIN_EXTENSION = "http://electronichealth.se/fhir/StructureDefinition/NLLAdministrationInstruction"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
USER_AGENT = "genrep-harness/0.1"


@dataclass
class Prescription:
    """What a reader of a MedicationRequest sees, independent of the release shape."""

    id: str
    medication: str
    patient_instruction: str | None
    absent_reason: str | None
    dosage_text: str
    administration_instruction: str | None
    note: str
    version: str
    modifier_extensions: list[str]
    resource: dict

    def __repr__(self) -> str:
        return f"Prescription({self.id}, v{self.version})"


def read_prescription(res: dict) -> Prescription:
    """Read a MedicationRequest as NLL release N or N+1 shapes it (the harness knows both)."""
    dosage = (res.get("dosageInstruction") or [{}])[0]
    admin = None
    for extra in dosage.get("additionalInstruction") or []:
        if extra.get("text"):
            admin = extra["text"]
            break
    for ext in dosage.get("extension") or []:
        if ext.get("url") == ADMIN_EXTENSION:
            admin = ext.get("valueString")
    absent = None
    for ext in (dosage.get("_patientInstruction") or {}).get("extension") or []:
        if ext.get("url") == DATA_ABSENT:
            absent = ext.get("valueCode")
    notes = "\n".join(n.get("text", "") for n in res.get("note") or [])
    return Prescription(
        id=res.get("id", ""), medication=(res.get("medicationCodeableConcept") or {}).get("text", ""),
        patient_instruction=dosage.get("patientInstruction"), absent_reason=absent,
        dosage_text=dosage.get("text", ""), administration_instruction=admin, note=notes,
        version=(res.get("meta") or {}).get("versionId", ""),
        modifier_extensions=[m.get("url", "") for m in res.get("modifierExtension") or []],
        resource=res)


def bundle_resources(body: dict, who: str) -> list[dict]:
    """The resources of a Bundle's entries; ProtocolError when entry is not a list of objects
    whose ``resource`` (when present) is an object (a malformed answer is never an empty list)."""
    entries = body.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ProtocolError(f"{who} answered a malformed Bundle (entry must be a list of objects)")
    out = []
    for entry in entries:
        res = entry.get("resource")
        if res is None:
            continue
        if not isinstance(res, dict):
            raise ProtocolError(f"{who} answered a malformed Bundle (entry.resource must be an object)")
        out.append(res)
    return out


class NLLClient:
    """Reads from NLL (simulator or a real NLL test endpoint) with NLL's required headers."""

    def __init__(self, profile: Profile, guard: IdentityGuard):
        self.guard = guard
        self.fhir = FHIRClient(http_transport_for(profile, "nll_fhir", user_agent=USER_AGENT))

    def __repr__(self) -> str:
        return f"NLLClient({self.fhir.transport.base_url})"

    def _headers(self) -> dict:
        return {"x-request-id": str(uuid.uuid4()), "x-user-agent": USER_AGENT}

    def prescriptions(self, identifier: str) -> list[Prescription]:
        self.guard.check(identifier, destination="NLL")
        body = self.fhir.get_json("MedicationRequest", {"patient.identifier": f"{PNR_SYSTEM}|{identifier}"},
                                  headers=self._headers())
        if body.get("resourceType") != "Bundle":
            raise ProtocolError(f"NLL answered a {body.get('resourceType')} where a Bundle was expected")
        out = []
        for res in bundle_resources(body, "NLL"):
            if res.get("resourceType") == "MedicationRequest":
                validate(res)
                out.append(read_prescription(res))
        return out

    def dosage_directions(self, rx_id: str) -> dict[str, str]:
        body = self.fhir.get_json(f"MedicationRequest/{rx_id}/$patient-dosage-directions",
                                  headers=self._headers())
        if body.get("resourceType") != "Parameters":
            raise ProtocolError(f"NLL answered a {body.get('resourceType')} where Parameters were expected")
        return {p.get("name", ""): p.get("valueString", p.get("valueCode", ""))
                for p in body.get("parameter") or []}

    def ping(self) -> str:
        body = self.fhir.get_json("$ping", headers=self._headers())
        issues = body.get("issue") or [{}]
        return issues[0].get("diagnostics", "")

    def structure_definition(self) -> dict:
        return self.fhir.get_json("StructureDefinition/NLLMedicationRequest", headers=self._headers())


class NLLAdmin:
    """The NLL simulator's admin API (virtual environment only): plant content, switch the release.
    Faults are not here: ``genrep.faults.driver_for(profile, venv).inject("nll", ...)``."""

    def __init__(self, profile: Profile, guard: IdentityGuard):
        try:
            ep = profile.endpoint("nll_admin")
        except ConfigError:
            raise ConfigError(f"profile '{profile.name}' has no NLL admin endpoint: the harness can plant "
                              "NLL test data only in the virtual environment; against a real NLL, use the "
                              "test patients the profile names") from None
        self.guard = guard
        self.http = http_transport_for(profile, ep, with_token=False)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        self.guard.check(path, destination="NLL admin")  # the patient's number is in the path
        if body is not None:
            import json
            self.guard.check(json.dumps(body, ensure_ascii=False), destination="NLL admin")
        resp = self.http.request(method, path, json=body)
        if resp.status_code >= 400:
            raise FHIRError(f"NLL admin {method} {path}: HTTP {resp.status_code} {resp.text[:200]}",
                            status=resp.status_code)
        return resp.json() if resp.content else {}

    def load(self, identifier: str, prescriptions: list[dict]) -> None:
        self._call("PUT", f"patients/{identifier}", {"prescriptions": prescriptions})

    def release(self, release: str) -> None:
        self._call("POST", "release", {"release": release})

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def close(self) -> None:
        self.http.close()
