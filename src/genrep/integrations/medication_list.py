"""The medication-list contract: what the EHR shows of a patient's NLL list, compared with NLL.

``EHRMedicationClient`` reads the EHR's MedicationRequest search for a patient (the list as a
clinician sees it); ``compare_lists`` matches each NLL prescription with what the EHR shows and
compares every text field with ``fidelity`` (same loss classification as radiology: negation words
critical). Fail-safe rules: an EHR answer of "NLL unavailable" is a state of its own, never an
empty list; an empty list is only right when NLL itself holds none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genrep.config.profile import Profile
from genrep.errors import FHIRError, ProtocolError
from genrep.transport.fhir import FHIRClient, validate
from genrep.text.fidelity import TextRules, compare
from genrep.transport.endpoints import http_transport_for
from genrep.integrations.nll import Prescription, bundle_resources, read_prescription

FIELDS = (("patient_instruction", "patient instruction"), ("dosage_text", "dosage text"),
          ("administration_instruction", "administration instruction"), ("note", "note"))


@dataclass
class ShownList:
    """What the EHR answered: a list (possibly with warnings) or an explicit "unavailable"."""

    available: bool
    prescriptions: list[Prescription] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""

    def __repr__(self) -> str:
        return f"ShownList(available={self.available}, {len(self.prescriptions)} items)"


class EHRMedicationClient:
    def __init__(self, profile: Profile):
        self.fhir = FHIRClient(http_transport_for(profile, "ehr_fhir"))

    def __repr__(self) -> str:
        return f"EHRMedicationClient({self.fhir.transport.base_url})"

    def medication_list(self, patient_id: str) -> ShownList:
        try:
            body = self.fhir.get_json("MedicationRequest", {"patient": patient_id})
        except FHIRError as exc:
            if exc.status in (502, 503, 504):
                return ShownList(False, message=exc.outcome or str(exc))
            raise
        if body.get("resourceType") != "Bundle":
            raise ProtocolError(f"the EHR answered a {body.get('resourceType')} for a medication list")
        shown = ShownList(True)
        for res in bundle_resources(body, "the EHR"):
            if res.get("resourceType") == "MedicationRequest":
                validate(res)
                shown.prescriptions.append(read_prescription(res))
            elif res.get("resourceType") == "OperationOutcome":
                shown.warnings += [i.get("diagnostics", "") for i in res.get("issue") or []]
        return shown


def match(nll_rx: Prescription, shown: list[Prescription]) -> Prescription | None:
    """The EHR's item for an NLL prescription: by id (EHRs keep NLL's id), else by medication."""
    for rx in shown:
        if rx.id in (nll_rx.id, f"nll-{nll_rx.id}"):
            return rx
    same = [rx for rx in shown if rx.medication == nll_rx.medication]
    return same[0] if len(same) == 1 else None


def compare_lists(nll_items: list[Prescription], shown: ShownList, rules: TextRules) -> list[str]:
    """Problems found, each a line starting with its classification; [] when the EHR is faithful."""
    problems: list[str] = []
    if not shown.available:
        return [f"nll_unavailable: the EHR could not show the list: {shown.message}"]
    for nll_rx in nll_items:
        if nll_rx.modifier_extensions:
            continue  # checked by the withheld-and-flagged rule, not here
        ehr_rx = match(nll_rx, shown.prescriptions)
        if ehr_rx is None:
            problems.append(f"missing_prescription: NLL holds '{nll_rx.medication}' but the EHR does not show it")
            continue
        for attr, label in FIELDS:
            want, got = getattr(nll_rx, attr), getattr(ehr_rx, attr)
            if not want:
                continue
            if not got:
                problems.append(f"missing_field: the {label} of '{nll_rx.medication}' is in NLL but the EHR "
                                f"shows none (NLL: \"{want[:80]}\")")
                continue
            result = compare(want, got, rules)
            if not result.ok:
                problems.append(f"{label} of '{nll_rx.medication}': " + result.summary())
        if nll_rx.version and ehr_rx.version and nll_rx.version != ehr_rx.version:
            problems.append(f"wrong_version: NLL holds version {nll_rx.version} of '{nll_rx.medication}', "
                            f"the EHR shows version {ehr_rx.version}")
    return problems
