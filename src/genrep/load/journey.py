"""A clinician's whole task under load, timed end to end as one transaction (issue 18, part 2).

In 2024 the load tests were "good" while clinicians found the system slow: every operation was
timed on its own, and no one measured a clinician's task. ``ReportToPrescription`` is one such
task, made of the same library calls as the journeys' scenarios (``genrep.integrations``: the
radiology client, the medication-list client, the prescribing client), one after the other, each
with the same check the scenarios make:

1. register the patient at the emergency department (ADT^A04: AA, then readable over FHIR);
2. the referral (ORM^O01: AA);
3. the report arrives (ORU^R01, the 9.7 KB load report: AA);
4. the clinician reads it (``read_back`` until readable, every representation compared with what
   was sent: ``check_read_back``);
5. reconciles the medication list (``EHRMedicationClient.medication_list``: available, not empty);
6. prescribes with an interaction check (``PrescribingClient.prescribe``: performed, and the
   known interacting pair reported).

``run`` returns each step's seconds, or raises ``JourneyFailed`` naming the step and why. The
Locust user (``load/users.py``: ``JourneyUser``) times the whole and reports it as one request named
after the journey; its SLA is ``contracts/load.yaml`` ``journeys.NAME.sla`` (PERF-JOURNEY-*). No
Locust import here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from genrep import hl7
from genrep.errors import GenrepError
from genrep.load.contract import JOURNEYS, REPORT_TO_PRESCRIPTION  # noqa: F401 - the names live with the contract
from genrep.load.workload import ORU_TEXT, load_identity

STEPS = ("register", "referral", "report_arrives", "read_report", "medication_list", "prescribe")


class JourneyFailed(GenrepError):
    """A step of a journey did not do what the journey needs: ``step`` and the reason."""

    def __init__(self, step: str, message: str):
        super().__init__(f"{step}: {message}")
        self.step = step


class ReportToPrescription:
    """Register -> referral -> the report arrives -> read it -> the medication list -> prescribe."""

    name = REPORT_TO_PRESCRIPTION

    def __init__(self, profile, guard, allowlist, pair: tuple[str, str], *,
                 on_sent: Callable[[str], None] | None = None, on_accepted: Callable[[str], None] | None = None):
        from genrep.config.contracts import load_radiology
        from genrep.integrations.medication_list import EHRMedicationClient
        from genrep.integrations.multum import PrescribingClient
        from genrep.integrations.radiology import RadiologyClient
        from genrep.text.testdata import patient_for
        self.patient = patient_for(load_identity(allowlist), seed="load")  # the load's test patient
        self.radiology = RadiologyClient(profile, load_radiology(), guard)
        self.medications = EHRMedicationClient(profile)
        self.prescribing = PrescribingClient(profile)
        self.current, self.new = pair
        # the ORUs a journey sends count in "AA is stored" like the RIS users' (PERF-STORED)
        self.on_sent = on_sent or (lambda accession: None)
        self.on_accepted = on_accepted or (lambda accession: None)

    def close(self) -> None:
        for client in (self.radiology, self.prescribing):
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        try:
            self.medications.fhir.transport.close()
        except Exception:  # noqa: BLE001
            pass

    def run(self) -> dict[str, float]:
        """Every step in order; their seconds. ``JourneyFailed`` at the first that fails (an
        IdentityViolation from the guard is raised as it is: it stops the run)."""
        from genrep.integrations.radiology import new_accession
        took: dict[str, float] = {}

        def step(name: str):
            return _Step(name, took)

        with step("register"):
            ex = self.radiology.register(self.patient, "A04", patient_class="E", location="Akutmottagningen")
            _accepted("register", ex)
            found = self.radiology.find_patient(self.patient.identifier)
            if not found:
                raise JourneyFailed("register", "not_stored: ADT^A04 acknowledged but the patient is not readable")
            patient_id = found["id"]
        accession = new_accession()
        order = hl7.Order(placer=accession, code="CT-THORAX", title="DT thorax",
                          reason="Andfåddhet, misstänkt lungemboli")
        with step("referral"):
            _accepted("referral", self.radiology.send_order(self.patient, order))
        with step("report_arrives"):  # the report answers the referral: the examination ordered (OBR-4)
            report = hl7.Report(accession=accession, text=ORU_TEXT, code=order.code, title=order.title)
            message = self.radiology.build_report(self.patient, report)
            self.on_sent(accession)
            _accepted("report_arrives", self.radiology.send_message(message))
            self.on_accepted(accession)
        with step("read_report"):
            reports, _ = self.radiology.read_back(accession)
            if not reports:
                raise JourneyFailed("read_report", f"not_stored: report {accession} answered AA is not readable")
            check = self.radiology.check(ORU_TEXT, reports[0], examination=report.title)
            if not check.ok:
                raise JourneyFailed("read_report", check.message())
        with step("medication_list"):
            shown = self.medications.medication_list(patient_id)
            if not shown.available:
                raise JourneyFailed("medication_list", f"nll_unavailable: {shown.message[:200]}")
            if not shown.prescriptions:
                raise JourneyFailed("medication_list", "missing_prescription: the medication list is empty, "
                                                       "though NLL holds the load patient's list")
        with step("prescribe"):
            result = self.prescribing.prescribe(patient_id, [self.current], self.new)
            if not result.performed:
                raise JourneyFailed("prescribe", f"check_not_performed: {result.status} {result.reason[:200]}")
            if not result.has_interaction(self.current, self.new):
                raise JourneyFailed("prescribe", f"false_no_interactions: {self.current}+{self.new} interact")
        return took


class _Step:
    """Times one step into ``took``; any error but an identity refusal becomes JourneyFailed(step)."""

    def __init__(self, name: str, took: dict[str, float]):
        self.name, self.took = name, took

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind, exc, tb):
        self.took[self.name] = time.perf_counter() - self.start
        from genrep.errors import IdentityViolation
        if exc is None or isinstance(exc, (JourneyFailed, IdentityViolation)) or not isinstance(exc, Exception):
            return False
        raise JourneyFailed(self.name, f"{type(exc).__name__}: {str(exc)[:300]}") from exc


def _accepted(step: str, exchange) -> None:
    if exchange.ack is None or exchange.ack.code != "AA":
        code = exchange.ack.code if exchange.ack else "nothing"
        text = (exchange.ack.text or "") if exchange.ack else ""
        raise JourneyFailed(step, f"the EHR answered {code} {text}".strip())
