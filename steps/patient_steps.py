"""Patient steps shared by every integration: one registered test patient per scenario."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import pytest
from pytest_bdd import given

from genrep import hl7
from genrep.results.allure import attach_text, hl7_for_display
from genrep.text.testdata import patient_for


@dataclass
class Subject:
    """The scenario's patient. Its repr shows no patient data (Allure records step arguments)."""

    patient: hl7.Patient | None = None
    fhir: dict | None = None  # the EHR's Patient resource
    identity: object = None  # the allowlisted TestIdentity behind the patient

    def __repr__(self) -> str:
        return "Subject()"

    @property
    def fhir_id(self) -> str:
        assert self.fhir is not None, "no patient was registered in an earlier step"
        return self.fhir["id"]


@pytest.fixture
def subject():
    return Subject()


@given("a registered test patient")
@given("en registrerad testpatient")
def given_registered_patient(subject, radiology_client, allowlist, request):
    identity = allowlist.pick(zlib.crc32(request.node.nodeid.encode()) % 1000, kind="personnummer")
    subject.patient = patient_for(identity, seed=request.node.name)
    ex = radiology_client.register(subject.patient, "A04")
    attach_text("HL7 sent (ADT^A04)", hl7_for_display(ex.message), kind="hl7")
    if ex.ack_raw is not None:
        attach_text("ACK received (ADT^A04)", hl7_for_display(ex.ack_raw.decode("latin-1")), kind="hl7")
    assert ex.ack and ex.ack.accepted, (
        f"registration_refused: the EHR answered {ex.ack.code if ex.ack else 'nothing'} to ADT^A04: "
        f"{ex.ack.text if ex.ack else ''}")
    subject.fhir = radiology_client.find_patient(subject.patient.identifier)
    assert subject.fhir is not None, (
        "not_stored: the EHR acknowledged the registration (AA) but the patient cannot be read back "
        "over FHIR")
    problems = radiology_client.check_registration(subject.patient, subject.fhir)
    assert not problems, "\n".join(problems)
