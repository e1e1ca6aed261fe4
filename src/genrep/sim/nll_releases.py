"""NLL releases N and N+1: pure functions from the simulator's prescription model to FHIR R4 JSON.

Every difference between the two releases lives in this module, so a reader can see at a glance
what "the update" changed (the four ways real releases change a provider contract):

(a) ADDED element: N+1 puts ``extension`` NLLPrescriptionFormat (code "E") on MedicationRequest;
(b) REDUCED limit: N+1's StructureDefinition cuts ``Dosage.patientInstruction`` maxLength 512 -> 256
    (the data served is unchanged: the provider's published contract and its data now disagree);
(c) CHANGED TEXT FORMATTING: N+1 renders line breaks in ``patientInstruction`` (and the formatted
    label text) as ``\\r\\n`` instead of ``\\n``;
(d) MOVED field: N+1 moves the administration instruction from
    ``dosageInstruction[0].additionalInstruction[0].text`` to a Dosage extension
    NLLAdministrationInstruction (valueString).
The StructureDefinition of N+1 shows (a), (b) and (d); (c) is visible only in the data.

The model (one prescription): ``id`` and ``medication`` (required strings), ``patient_instruction``
(text whose line breaks are ``\\n``), ``dosage_text``, ``administration_instruction``, ``note``,
``version`` (meta.versionId), ``status``, ``modifier_extension`` (bool), and
``patient_instruction_absent`` (``"masked"`` | ``"unknown"``: NLL withholds / does not have it),
and ``dosage_steps``: a schedule of several steps (a taper, a loading dose then a maintenance
dose), each ``{"text", "patient_instruction", "days", "when", "frequency"}``, served as one
``dosageInstruction`` per step with ``sequence`` 1..n and a ``timing`` (``frequency`` per day,
``when`` an EventTiming code, ``boundsDuration`` ``days``). A prescription with steps has no
``dosage_text`` / ``patient_instruction`` of its own; its administration instruction goes on every
step.
Only ``\\n`` is a line break of the model; any other control character (a lone ``\\r``) is data and
reaches the consumer unchanged, so line-break edge cases can still be served on purpose.
"""

from __future__ import annotations

RELEASES = ("N", "N+1")
LINE_BREAKS = {"N": "\n", "N+1": "\r\n"}
LABEL_WIDTH = 40

SD_BASE = "http://electronichealth.se/fhir/StructureDefinition"
PROFILE_URL = f"{SD_BASE}/NLLMedicationRequest"
PROFILE_NAME = "NLLMedicationRequest"
FORMAT_EXT = f"{SD_BASE}/NLLPrescriptionFormat"
FORMAT_SYSTEM = "http://electronichealth.se/fhir/CodeSystem/NLLPrescriptionFormat"
ADMIN_EXT = f"{SD_BASE}/NLLAdministrationInstruction"
UNKNOWN_MODIFIER = f"{SD_BASE}/NLLUnknownModifier"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
ABSENT_REASONS = ("masked", "unknown")
UCUM = "http://unitsofmeasure.org"
#: FHIR EventTiming codes a dosage step's ``when`` may name (a subset: the ones a label says).
EVENT_TIMINGS = ("MORN", "NOON", "AFT", "EVE", "NIGHT", "HS", "WAKE", "C", "CM", "CD", "CV")
STATUSES = ("active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
            "unknown")


def check_release(release: str) -> str:
    if release not in RELEASES:
        raise ValueError(f"unknown NLL release {release!r} (known: {', '.join(RELEASES)})")
    return release


def render_text(text: str, release: str) -> str:
    """The model's ``\\n`` line breaks in the release's convention."""
    return text.replace("\n", LINE_BREAKS[check_release(release)])


def wrap_label(text: str, width: int = LABEL_WIDTH) -> list[str]:
    """Wrap for a pharmacy label: each line of ``text`` (split at ``\\n``) greedily at ``width``.

    Words are runs of non-whitespace; runs of whitespace inside a line become one space. A word
    never is dropped or split, except a word longer than ``width``, which is hard-broken into
    ``width``-character parts (no hyphen: the characters on the label are exactly the word's).
    No output line is longer than ``width``. Empty input lines stay empty lines."""
    if width < 1:
        raise ValueError("width must be at least 1")
    out: list[str] = []
    for line in text.split("\n"):
        current = ""
        words = line.split()
        if not words:
            out.append("")
            continue
        for word in words:
            if current and len(current) + 1 + len(word) <= width:
                current += " " + word
                continue
            if current:
                out.append(current)
            while len(word) > width:
                out.append(word[:width])
                word = word[width:]
            current = word
        out.append(current)
    return out


def format_label(text: str, release: str, width: int = LABEL_WIDTH) -> str:
    return LINE_BREAKS[check_release(release)].join(wrap_label(text, width))


# -- MedicationRequest -------------------------------------------------------------------------

def _timing(step: dict) -> dict | None:
    """A step's ``frequency`` (per day), ``when`` and ``days`` as a FHIR Timing; None without them."""
    repeat: dict = {}
    if step.get("days"):
        repeat["boundsDuration"] = {"value": step["days"], "unit": "d", "system": UCUM, "code": "d"}
    if step.get("frequency") or step.get("when"):
        repeat.update(frequency=step.get("frequency") or 1, period=1, periodUnit="d")
    if step.get("when"):
        repeat["when"] = [step["when"]]
    return {"repeat": repeat} if repeat else None


def _step_dosage(rx: dict, step: dict, sequence: int, release: str) -> dict:
    """One step of a multi-step schedule as a Dosage: ``sequence``, ``text``, ``timing``, the
    prescription's administration instruction, the step's patient instruction."""
    dosage: dict = {"sequence": sequence, "text": step["text"]}
    timing = _timing(step)
    if timing:
        dosage["timing"] = timing
    one = _dosage({"administration_instruction": rx.get("administration_instruction"),
                   "patient_instruction": step.get("patient_instruction")}, release)
    dosage.update(one or {})
    return dosage


def _dosages(rx: dict, release: str) -> list[dict]:
    """Every Dosage of a prescription: one per step of ``dosage_steps``, else the single one."""
    if rx.get("dosage_steps"):
        return [_step_dosage(rx, step, n, release) for n, step in enumerate(rx["dosage_steps"], 1)]
    dosage = _dosage(rx, release)
    return [dosage] if dosage else []


def patient_instruction_of(rx: dict) -> str | None:
    """The patient's whole instruction: the steps' instructions one per line for a schedule."""
    if rx.get("dosage_steps"):
        texts = [s["patient_instruction"] for s in rx["dosage_steps"] if s.get("patient_instruction")]
        return "\n".join(texts) if texts else None
    return rx.get("patient_instruction")


def _dosage(rx: dict, release: str) -> dict | None:
    dosage: dict = {}
    if rx.get("dosage_text"):
        dosage["text"] = rx["dosage_text"]
    admin = rx.get("administration_instruction")
    if admin:
        if release == "N":
            dosage["additionalInstruction"] = [{"text": admin}]
        else:  # (d) moved into an extension
            dosage["extension"] = [{"url": ADMIN_EXT, "valueString": admin}]
    if rx.get("patient_instruction") is not None:
        dosage["patientInstruction"] = render_text(rx["patient_instruction"], release)  # (c)
    elif rx.get("patient_instruction_absent"):
        dosage["_patientInstruction"] = {"extension": [
            {"url": DATA_ABSENT_REASON, "valueCode": rx["patient_instruction_absent"]}]}
    return dosage or None


def medication_request(rx: dict, patient: str, release: str) -> dict:
    """One prescription as a MedicationRequest in the shape of ``release``."""
    check_release(release)
    res: dict = {"resourceType": "MedicationRequest", "id": rx["id"],
                 "meta": {"versionId": str(rx.get("version") or 1), "profile": [PROFILE_URL]}}
    if release == "N+1":  # (a) added element
        res["extension"] = [{"url": FORMAT_EXT,
                             "valueCoding": {"system": FORMAT_SYSTEM, "code": "E"}}]
    if rx.get("modifier_extension"):
        res["modifierExtension"] = [{"url": UNKNOWN_MODIFIER, "valueBoolean": True}]
    res.update({"status": rx.get("status") or "active", "intent": "order",
                "medicationCodeableConcept": {"text": rx["medication"]},
                "subject": {"identifier": {"system": PNR_SYSTEM, "value": patient}}})
    dosages = _dosages(rx, release)
    if dosages:
        res["dosageInstruction"] = dosages
    if rx.get("note"):
        res["note"] = [{"text": rx["note"]}]
    return res


def searchset(prescriptions: list[dict], patient: str, release: str, base: str = "") -> dict:
    resources = [medication_request(rx, patient, release) for rx in prescriptions]
    prefix = f"{base.rstrip('/')}/" if base else ""
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{prefix}MedicationRequest/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def dosage_directions(rx: dict, release: str) -> dict:
    """``$patient-dosage-directions``: a Parameters resource.

    ``patientInstruction`` (release line breaks), ``patientInstructionFormatted`` (label text
    wrapped at 40 columns, release line breaks), ``administrationInstruction`` when there is one.
    A withheld/unknown instruction gives ``dataAbsentReason`` (valueCode) instead of the two texts;
    a prescription with neither an instruction nor a reason gives neither. A multi-step schedule's
    instruction is its steps' instructions, one after the other, in step order."""
    check_release(release)
    params: list[dict] = []
    text = patient_instruction_of(rx)
    if text is not None:
        params.append({"name": "patientInstruction", "valueString": render_text(text, release)})
        formatted = format_label(text, release)
        if formatted:
            params.append({"name": "patientInstructionFormatted", "valueString": formatted})
    elif rx.get("patient_instruction_absent"):
        params.append({"name": "dataAbsentReason", "valueCode": rx["patient_instruction_absent"]})
    if rx.get("administration_instruction"):
        params.append({"name": "administrationInstruction", "valueString": rx["administration_instruction"]})
    out: dict = {"resourceType": "Parameters"}
    if params:
        out["parameter"] = params
    return out


# -- StructureDefinition and CapabilityStatement ---------------------------------------------

def _el(path: str, mn: int, mx: str, types: tuple[str, ...] = (), max_length: int | None = None,
        slice_name: str | None = None, profile: str | None = None) -> dict:
    el: dict = {"id": path + (f":{slice_name}" if slice_name else ""), "path": path}
    if slice_name:
        el["sliceName"] = slice_name
    el["min"], el["max"] = mn, mx
    if types:
        el["type"] = [{"code": t, **({"profile": [profile]} if profile else {})} for t in types]
    if max_length is not None:
        el["maxLength"] = max_length
    return el


def _elements(release: str) -> list[dict]:
    mr, dosage = "MedicationRequest", "MedicationRequest.dosageInstruction"
    els = [
        _el(mr, 0, "*"),
        _el(f"{mr}.meta.versionId", 1, "1", ("id",)),
        _el(f"{mr}.meta.profile", 1, "*", ("canonical",)),
    ]
    if release == "N+1":  # (a)
        els.append(_el(f"{mr}.extension", 0, "1", ("Extension",), slice_name="prescriptionFormat",
                       profile=FORMAT_EXT))
    els += [
        _el(f"{mr}.status", 1, "1", ("code",)),
        _el(f"{mr}.intent", 1, "1", ("code",)),
        _el(f"{mr}.medicationCodeableConcept", 1, "1", ("CodeableConcept",)),
        _el(f"{mr}.medicationCodeableConcept.text", 1, "1", ("string",)),
        _el(f"{mr}.subject", 1, "1", ("Reference",)),
        _el(f"{mr}.subject.identifier", 1, "1", ("Identifier",)),
        _el(dosage, 0, "*", ("Dosage",)),
        _el(f"{dosage}.text", 0, "1", ("string",)),
    ]
    if release == "N+1":  # (d) moved
        els.append(_el(f"{dosage}.extension", 0, "1", ("Extension",), slice_name="administrationInstruction",
                       profile=ADMIN_EXT))
    else:
        els.append(_el(f"{dosage}.additionalInstruction.text", 0, "1", ("string",), 512))
    els += [
        _el(f"{dosage}.patientInstruction", 1, "1", ("string",), 512 if release == "N" else 256),  # (b)
        _el(f"{dosage}.route.text", 0, "1", ("string",), 256),
        _el(f"{dosage}.method.text", 0, "1", ("string",), 256),
        _el(f"{mr}.note.text", 1, "1", ("markdown",)),
    ]
    return els


def structure_definition(release: str) -> dict:
    check_release(release)
    return {
        "resourceType": "StructureDefinition", "id": PROFILE_NAME, "url": PROFILE_URL,
        "version": release, "name": PROFILE_NAME, "title": "NLL förskrivning (simulated)",
        "status": "active", "fhirVersion": "4.0.1", "kind": "resource", "abstract": False,
        "type": "MedicationRequest",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/MedicationRequest",
        "derivation": "constraint",
        "differential": {"element": _elements(release)},
    }


def capability_statement(release: str) -> dict:
    check_release(release)
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01",
        "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
        "software": {"name": "NLL simulator (genrep)", "version": release},
        "implementation": {"description": f"Simulated Nationella läkemedelslistan, release {release}"},
        "rest": [{"mode": "server",
                  "resource": [
                      {"type": "MedicationRequest", "profile": PROFILE_URL,
                       "interaction": [{"code": "read"}, {"code": "search-type"}],
                       "searchParam": [{"name": "patient.identifier", "type": "token"}],
                       "operation": [{"name": "patient-dosage-directions",
                                      "definition": "http://electronichealth.se/fhir/OperationDefinition/patient-dosage-directions"}]},
                      {"type": "StructureDefinition", "interaction": [{"code": "read"}]}],
                  "operation": [{"name": "ping",
                                 "definition": "http://electronichealth.se/fhir/OperationDefinition/ping"}]}],
    }
