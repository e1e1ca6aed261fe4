"""NLL (Nationella läkemedelslistan) client: the harness reads the expected text from NLL itself.

Scenarios compare what the EHR shows with what NLL holds, read over NLL's FHIR R4 API with the
headers NLL requires (``x-request-id``, ``x-user-agent``). That keeps the same scenario valid
against a real NLL test environment, where the harness cannot plant data. ``NLLAdmin`` plants
test content and switches releases, and exists only in the virtual environment; faults go through
``genrep.faults`` (target ``nll``), like every other runtime fault.

A missing list is never an empty list: every failure (timeout, 503, malformed JSON, wrong content
type, an OperationOutcome) raises a specific error; only a valid, empty searchset Bundle is "no
prescriptions".

Read as FHIR servers answer (issue 16), here and in the EHR's medication list alike:

* every ``dosageInstruction`` (``Prescription.dosage``, one ``DosageStep`` each, in ``sequence``
  order): a three-step taper is three steps, never its first one;
* every page of the search (``FHIRClient.search_bundle``, bounded: page limit and total);
* ``medicationReference`` resolved: a contained ``#id``, or the referenced Medication read (once
  per answer); the medication is its ``code.text`` (else a coding's display);
* the OperationOutcome entries of a searchset are warnings, their ``details.text`` and
  ``diagnostics`` both (``transport.fhir.issue_texts``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from genrep.config.profile import Profile
from genrep.errors import ConfigError, FHIRError, ProtocolError
from genrep.transport.fhir import FHIRClient, issue_text, issue_texts, validate
from genrep.transport.endpoints import http_transport_for
from genrep.text.identities import IdentityGuard
from genrep.text.identity_scan import numbers_in

PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
ADMIN_EXTENSION = "http://electronichealth.se/fhir/StructureDefinition/NLLAdministrationInstruction"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
USER_AGENT = "genrep-harness/0.1"


def request_id() -> str:
    """A new ``x-request-id``: NLL requires a UUID. A random UUID's hex digits can hold ten decimal
    digits in a row that read as a checksum-valid personnummer or samordningsnummer (found by a
    fresh-clone `make test`: ``...-3708610229e4``, 370861-0229, a samordningsnummer of 1 August 1937;
    3 UUIDs in 20,000 measured, so a few percent of suite runs). The outbound identity guard then
    refuses our own header and stops the run, rightly: it cannot know the number is noise. Such a
    UUID is drawn again."""
    for _ in range(1000):
        candidate = str(uuid.uuid4())
        if not numbers_in(candidate):
            return candidate
    raise RuntimeError("1,000 random UUIDs in a row held a personnummer-shaped number")  # never: p < 0.01**1000


@dataclass
class DosageStep:
    """One ``Dosage`` of ``dosageInstruction``: a step of a tapering schedule, or one of several
    instructions given together. ``sequence`` is the Dosage's own (None when it has none)."""

    sequence: int | None
    text: str
    patient_instruction: str | None
    absent_reason: str | None
    administration_instruction: str | None


@dataclass
class Prescription:
    """What a reader of a MedicationRequest sees, independent of the release shape.

    ``dosage`` holds every step of ``dosageInstruction`` in order; the single-valued fields
    (``patient_instruction``, ``absent_reason``, ``dosage_text``, ``administration_instruction``)
    are the first step's, for a reader that shows one line per prescription."""

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
    dosage: list[DosageStep] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Prescription({self.id}, v{self.version})"

    @property
    def steps(self) -> list[DosageStep]:
        """Every dosage step; one made from the single-valued fields when ``dosage`` is empty."""
        if self.dosage:
            return self.dosage
        return [DosageStep(None, self.dosage_text, self.patient_instruction, self.absent_reason,
                           self.administration_instruction)]


def read_dosage(dosage: dict) -> DosageStep:
    """One Dosage as release N (``additionalInstruction.text``) or N+1 (the administration
    extension) shapes it."""
    admin = None
    for extra in dosage.get("additionalInstruction") or []:
        if isinstance(extra, dict) and extra.get("text"):
            admin = extra["text"]
            break
    for ext in dosage.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == ADMIN_EXTENSION:
            admin = ext.get("valueString")
    absent = None
    for ext in (dosage.get("_patientInstruction") or {}).get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == DATA_ABSENT:
            absent = ext.get("valueCode")
    seq = dosage.get("sequence")
    return DosageStep(sequence=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
                      text=dosage.get("text", "") or "", patient_instruction=dosage.get("patientInstruction"),
                      absent_reason=absent, administration_instruction=admin)


def dosage_steps(res: dict) -> list[DosageStep]:
    """Every ``dosageInstruction`` of a MedicationRequest, in ``sequence`` order when every step
    has one (a stable sort: steps given together keep their order), else as given."""
    raw = res.get("dosageInstruction") or []
    steps = [read_dosage(d) for d in raw if isinstance(d, dict)] if isinstance(raw, list) else []
    if steps and all(s.sequence is not None for s in steps):
        steps.sort(key=lambda s: s.sequence)
    return steps


def concept_text(concept) -> str:
    """A CodeableConcept as a reader sees it: its text, else the first coding's display, else code."""
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"]:
        return concept["text"]
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return coding.get("display") or coding.get("code")
    return ""


def medication_of(res: dict, read_reference: Callable[[str], dict] | None = None) -> str:
    """The medication a MedicationRequest names: ``medicationCodeableConcept``, or the Medication
    its ``medicationReference`` points at (a contained ``#id``; any other reference through
    ``read_reference``). ProtocolError when the reference cannot be resolved: a prescription is
    never shown nameless because its Medication was elsewhere."""
    if "medicationCodeableConcept" in res:
        return concept_text(res.get("medicationCodeableConcept"))
    ref_obj = res.get("medicationReference")
    if not isinstance(ref_obj, dict):
        return ""
    ref = ref_obj.get("reference")
    rid = res.get("id", "")
    if not isinstance(ref, str) or not ref:
        if ref_obj.get("display"):
            return ref_obj["display"]
        raise ProtocolError(f"MedicationRequest {rid}: medicationReference has neither reference nor display")
    if ref.startswith("#"):
        med = next((c for c in res.get("contained") or [] if isinstance(c, dict) and c.get("id") == ref[1:]), None)
        if med is None:
            raise ProtocolError(f"MedicationRequest {rid}: medicationReference {ref} names no contained resource")
    elif read_reference is None:
        raise ProtocolError(f"MedicationRequest {rid}: medicationReference {ref} is not contained and "
                            "this reader cannot fetch it")
    else:
        med = read_reference(ref)
    if med.get("resourceType") != "Medication":
        raise ProtocolError(f"MedicationRequest {rid}: medicationReference {ref} is a "
                            f"{med.get('resourceType')}, not a Medication")
    return concept_text(med.get("code")) or ref_obj.get("display") or ""


def read_prescription(res: dict, read_reference: Callable[[str], dict] | None = None) -> Prescription:
    """Read a MedicationRequest as NLL release N or N+1 shapes it (the harness knows both):
    every dosage step, the medication however it is given (``medication_of``)."""
    steps = dosage_steps(res)
    first = steps[0] if steps else DosageStep(None, "", None, None, None)
    notes = "\n".join(n.get("text", "") for n in res.get("note") or [] if isinstance(n, dict))
    return Prescription(
        id=res.get("id", ""), medication=medication_of(res, read_reference),
        patient_instruction=first.patient_instruction, absent_reason=first.absent_reason,
        dosage_text=first.text, administration_instruction=first.administration_instruction, note=notes,
        version=(res.get("meta") or {}).get("versionId", ""),
        modifier_extensions=[m.get("url", "") for m in res.get("modifierExtension") or []],
        resource=res, dosage=steps)


class ReferenceReader:
    """Reads the resources an answer's references point at, each once (``medicationReference``
    shared by many prescriptions is one read), validated."""

    def __init__(self, fhir: FHIRClient, headers: Callable[[], dict] | None = None):
        self.fhir, self.headers, self.cache = fhir, headers, {}

    def __call__(self, ref: str) -> dict:
        if ref not in self.cache:
            body = self.fhir.get_json(ref, headers=self.headers() if self.headers else None)
            validate(body)
            self.cache[ref] = body
        return self.cache[ref]


def bundle_resources(body: dict, who: str) -> list[dict]:
    """The resources of one Bundle's entries; ProtocolError when entry is not a list of objects
    whose ``resource`` (when present) is an object (a malformed answer is never an empty list).
    One page only: a search answer is read with ``FHIRClient.all_pages``."""
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


def read_list(fhir: FHIRClient, first: dict, who: str, headers: Callable[[], dict] | None = None
              ) -> tuple[list[Prescription], list[str]]:
    """A medication search answer read in full: every page (bounded), each MedicationRequest
    validated and read (references resolved), the OperationOutcome entries' texts as warnings."""
    bundle_resources(first, who)  # the first page's shape, with this reader's words
    prescriptions: list[Prescription] = []
    warnings: list[str] = []
    reader = ReferenceReader(fhir, headers)
    for res in fhir.all_pages(first, who=who, headers=headers):
        if res.get("resourceType") == "MedicationRequest":
            validate(res)
            prescriptions.append(read_prescription(res, reader))
        elif res.get("resourceType") == "OperationOutcome":
            warnings += issue_texts(res)
    return prescriptions, warnings


class NLLClient:
    """Reads from NLL (simulator or a real NLL test endpoint) with NLL's required headers."""

    def __init__(self, profile: Profile, guard: IdentityGuard):
        self.guard = guard
        self.fhir = FHIRClient(http_transport_for(profile, "nll_fhir", user_agent=USER_AGENT))
        self.warnings: list[str] = []  # NLL's OperationOutcome entries in the last list read

    def __repr__(self) -> str:
        return f"NLLClient({self.fhir.transport.base_url})"

    def _headers(self) -> dict:
        return {"x-request-id": request_id(), "x-user-agent": USER_AGENT}

    def prescriptions(self, identifier: str) -> list[Prescription]:
        """Every prescription NLL holds for the patient (every page); NLL's warnings for the same
        answer are kept in ``self.warnings``."""
        self.guard.check(identifier, destination="NLL")
        body = self.fhir.get_json("MedicationRequest", {"patient.identifier": f"{PNR_SYSTEM}|{identifier}"},
                                  headers=self._headers())
        if body.get("resourceType") != "Bundle":
            raise ProtocolError(f"NLL answered a {body.get('resourceType')} where a Bundle was expected")
        out, self.warnings = read_list(self.fhir, body, "NLL", self._headers)
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
        return issue_text(issues[0] if isinstance(issues, list) else {})

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
