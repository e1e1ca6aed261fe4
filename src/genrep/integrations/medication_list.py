"""The medication-list contract: what the EHR shows of a patient's NLL list, compared with NLL.

``EHRMedicationClient`` reads the EHR's MedicationRequest search for a patient (the list as a
clinician sees it); ``compare_lists`` matches each NLL prescription with what the EHR shows and
compares every text field with ``fidelity`` (same loss classification as radiology: negation words
critical). Fail-safe rules: an EHR answer of "NLL unavailable" is a state of its own, never an
empty list; an empty list is only right when NLL itself holds none.

The EHR's answer is read as NLL's is (``nll.read_list``): every page, every dosage step, the
medication behind a ``medicationReference``, the warnings' ``details.text`` and ``diagnostics``.
``compare_lists`` compares every dosage step NLL holds with the EHR's step in the same place: a
three-step taper shown as its first step is two ``missing_field`` findings, a step the EHR adds is
``extra_lines``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genrep.config.profile import Profile
from genrep.errors import FHIRError, ProtocolError
from genrep.transport.fhir import FHIRClient
from genrep.text.fidelity import TextRules, compare
from genrep.transport.endpoints import http_transport_for
from genrep.integrations.nll import DosageStep, Prescription, read_list

#: The texts of one dosage step, then the prescription's own.
STEP_FIELDS = (("patient_instruction", "patient instruction"), ("text", "dosage text"),
               ("administration_instruction", "administration instruction"))
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
        prescriptions, warnings = read_list(self.fhir, body, "the EHR")
        return ShownList(True, prescriptions, warnings)


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
        problems += _compare_steps(nll_rx, ehr_rx, rules)
        problems += _compare_field(nll_rx.medication, "note", nll_rx.note, ehr_rx.note, rules)
        if nll_rx.version and ehr_rx.version and nll_rx.version != ehr_rx.version:
            problems.append(f"wrong_version: NLL holds version {nll_rx.version} of '{nll_rx.medication}', "
                            f"the EHR shows version {ehr_rx.version}")
    return problems


def _compare_field(medication: str, label: str, want: str | None, got: str | None, rules: TextRules) -> list[str]:
    if not want:
        return []
    if not got:
        return [f"missing_field: the {label} of '{medication}' is in NLL but the EHR shows none "
                f"(NLL: \"{want[:80]}\")"]
    result = compare(want, got, rules)
    return [] if result.ok else [f"{label} of '{medication}': " + result.summary()]


def _step_summary(step: DosageStep) -> str:
    return (step.patient_instruction or step.text or step.administration_instruction or "")[:80]


def _compare_steps(nll_rx: Prescription, ehr_rx: Prescription, rules: TextRules) -> list[str]:
    """Every dosage step NLL holds against the EHR's step in the same place (sequence order)."""
    want, got = nll_rx.steps, ehr_rx.steps
    many = len(want) > 1 or len(got) > 1
    problems: list[str] = []
    for n, step in enumerate(want):
        where = f" (dosage step {n + 1} of {len(want)})" if many else ""
        if n >= len(got):
            problems.append(f"missing_field: dosage step {n + 1} of {len(want)} of '{nll_rx.medication}' is in "
                            f"NLL but the EHR shows {len(got)} step(s) (NLL: \"{_step_summary(step)}\")")
            continue
        for attr, label in STEP_FIELDS:
            problems += _compare_field(nll_rx.medication, label + where, getattr(step, attr),
                                       getattr(got[n], attr), rules)
    for n in range(len(want), len(got)):
        problems.append(f"extra_lines: the EHR shows dosage step {n + 1} of '{nll_rx.medication}' that NLL "
                        f"does not hold (NLL has {len(want)} step(s); EHR: \"{_step_summary(got[n])}\")")
    return problems
