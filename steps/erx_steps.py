"""E-prescription steps: a prescription signed with the prescriber's SITHS card, sent through the EHR, and
what actually arrived at the receiver.

Thin: the library (``genrep.integrations.erx``) sends, reads the offered certificates and what arrived,
and judges; faults into the receiver go through ``genrep.faults`` (target ``erx-receiver``).
Prescribers are named as in ``contracts/erx.yaml``; a reason by its code or its Swedish name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from genrep.config.contracts import load_erx
from genrep.integrations.erx import (ErxClient, ErxSend, expect_arrived_verified, expect_failed,
                                     expect_offered_none, expect_offered_only_signing, expect_refused,
                                     expect_sent)
from genrep.results.allure import attach_text
from steps.receivers import back_after, bring_back, take_down

from .patient_steps import Subject

TARGET = "erx-receiver"


@dataclass
class ErxScenario:
    subject: Subject
    client: ErxClient
    faults: object
    contract: object
    sent: ErxSend | None = None
    arrived_before: int | None = None   # prescriptions at the receiver before the send (None: not checkable)
    faulted: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return "ErxScenario()"


@pytest.fixture(scope="session")
def erx_contract():
    return load_erx()


@pytest.fixture(scope="session")
def erx_client(environment, erx_contract):
    client = ErxClient(environment, erx_contract)
    yield client
    client.close()


@pytest.fixture
def erx(subject, erx_client, fault_driver, erx_contract):
    yield from back_after(ErxScenario(subject, erx_client, fault_driver, erx_contract), fault_driver, TARGET)


def _send(erx: ErxScenario, prescriber: str, medication: str, dosage: str) -> None:
    who = erx.contract.prescriber(prescriber)
    before = erx.client.received() if not erx.faulted else None
    erx.arrived_before = len(before) if before is not None else None
    erx.sent = erx.client.send(who, erx.subject.fhir_id, medication, dosage)
    attach_text("E-prescription send", erx.sent.describe())


def _sent(erx: ErxScenario) -> ErxSend:
    assert erx.sent is not None, "no e-prescription was sent in an earlier step"
    return erx.sent


def _offered(erx: ErxScenario, prescriber: str):
    """The prescriber (by name or id) and the certificates their card offers, attached to the report."""
    who = erx.contract.prescriber(prescriber)
    offered = erx.client.offered(who)
    attach_text("Offered certificates", "\n".join(c.describe() for c in offered) or "none")
    return who, offered


# ---------------------------------------------------------------------------------- Given ---
@given(parsers.parse("the e-prescription receiver is down ({fault})"))
@when(parsers.parse("the e-prescription receiver is down ({fault})"))
@given(parsers.parse("receptmottagaren är nere ({fault})"))
@when(parsers.parse("receptmottagaren är nere ({fault})"))
def given_receiver_down(erx, fault):
    take_down(erx, TARGET, fault)


# ----------------------------------------------------------------------------------- When ---
@when("the e-prescription receiver is back")
@when("receptmottagaren är uppe igen")
def when_receiver_back(erx):
    bring_back(erx, TARGET)


@when(parsers.parse('"{prescriber}" e-prescribes "{medication}" with the dosage "{dosage}"'))
@when(parsers.parse('"{prescriber}" förskriver e-recept på "{medication}" med doseringen "{dosage}"'))
def when_prescribe(erx, prescriber, medication, dosage):
    _send(erx, prescriber, medication, dosage)


@when("the prescriber sends the e-prescription again")
@when("förskrivaren skickar e-receptet igen")
def when_send_again(erx):
    sent = _sent(erx)
    record = sent.record or {}
    _send(erx, sent.prescriber.id, str(record.get("medication") or "Paracetamol 500 mg"),
          str(record.get("dosage") or "1 tablett vid behov"))


# ----------------------------------------------------------------------------------- Then ---
@then("the EHR says the e-prescription was sent")
@then("säger journalen att e-receptet är skickat")
def then_sent(erx):
    problem = expect_sent(_sent(erx), erx.contract)
    assert problem is None, problem


@then("the receiver has the e-prescription, its signature verified with the prescriber's signing certificate")
@then("har receptmottagaren e-receptet, med signaturen verifierad mot förskrivarens underskriftscertifikat")
def then_arrived_verified(erx):
    sent = _sent(erx)
    record = sent.record or {}
    items = erx.client.received(str(record.get("id", ""))) if record.get("id") else []
    if items is None:  # a real receiver is asked another way (its own test routine)
        attach_text("Receiver", "not checked: the profile names no erx_receiver_admin endpoint")
        return
    attach_text("Receiver", repr(items))
    problem = expect_arrived_verified(sent, items, sent.prescriber)
    assert problem is None, problem


@then(parsers.parse('the EHR records the e-prescription as failed with the reason "{reason}"'))
@then(parsers.parse('registrerar journalen e-receptet som misslyckat med orsaken "{reason}"'))
def then_failed(erx, reason):
    sent = _sent(erx)
    record = sent.record or {}
    items = None
    if record.get("status") == "sent" and "killed" not in erx.faulted:  # the admin port answers
        items = erx.client.received(str(record["id"]))
    problem = expect_failed(sent, erx.contract.reason(reason).code, items)
    assert problem is None, problem


@then(parsers.parse('the e-prescription is refused with the reason "{reason}"'))
@then(parsers.parse('nekas e-receptet med orsaken "{reason}"'))
def then_refused(erx, reason):
    problem = expect_refused(_sent(erx), erx.contract.reason(reason).code)
    assert problem is None, problem


@then("nothing reaches the e-prescription receiver")
@then("når ingenting receptmottagaren")
def then_nothing_arrived(erx):
    after = erx.client.received()
    if after is None or erx.arrived_before is None:
        attach_text("Receiver", "not checked: the profile names no erx_receiver_admin endpoint")
        return
    new = after[erx.arrived_before:]
    assert not new, (f"erx_not_refused: {len(new)} prescription(s) reached the receiver where nothing may be sent: "
                     + "; ".join(f"{i.get('prescription')} verified={i.get('verified')} {i.get('reason') or ''}"
                                 for i in new))


@then(parsers.parse('"{prescriber}" is offered only their one valid signing certificate'))
@then(parsers.parse('erbjuds "{prescriber}" bara sitt enda giltiga underskriftscertifikat'))
def then_offered_only_signing(erx, prescriber):
    who, offered = _offered(erx, prescriber)
    problem = expect_offered_only_signing(offered, who, erx.contract)
    assert problem is None, problem


@then(parsers.parse('"{prescriber}" is offered no certificate to sign with'))
@then(parsers.parse('erbjuds "{prescriber}" inget certifikat att signera med'))
def then_offered_none(erx, prescriber):
    who, offered = _offered(erx, prescriber)
    problem = expect_offered_none(offered, who)
    assert problem is None, problem
