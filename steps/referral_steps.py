"""Referral steps: referrals sent through the EHR to another unit, and the feedback the sender gets.

Thin: the library (``genrep.integrations.referrals``) sends, watches the delivery within the contract's
bound and judges the outcome; faults into the receiving side go through ``genrep.faults`` (target
``referral-receiver``). Units are named as in ``contracts/referrals.yaml``; a failure reason by its code
or its Swedish name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from genrep.config.contracts import load_referrals
from genrep.integrations.referrals import (ReferralClient, ReferralOutcome, SentReferral, expect_delivered,
                                           expect_failed)
from genrep.results.allure import attach_text
from steps.receivers import back_after, bring_back, take_down

from .patient_steps import Subject

TARGET = "referral-receiver"


@dataclass
class ReferralScenario:
    subject: Subject
    client: ReferralClient
    faults: object
    contract: object
    sent: SentReferral | None = None
    outcome: ReferralOutcome | None = None
    faulted: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return "ReferralScenario()"


@pytest.fixture(scope="session")
def referral_contract():
    return load_referrals()


@pytest.fixture(scope="session")
def referral_client(environment, referral_contract):
    client = ReferralClient(environment, referral_contract)
    yield client
    client.close()


@pytest.fixture
def ref(subject, referral_client, fault_driver, referral_contract):
    yield from back_after(ReferralScenario(subject, referral_client, fault_driver, referral_contract), fault_driver,
                          TARGET)


def _send(ref: ReferralScenario, unit, question: str) -> None:
    ref.sent = ref.client.send(ref.subject.fhir_id, unit, question)
    ref.outcome = None


def _feedback(ref: ReferralScenario) -> ReferralOutcome:
    assert ref.sent is not None, "no referral was sent in an earlier step"
    if ref.outcome is None:
        ref.outcome = ref.client.await_feedback(ref.sent)
        attach_text("Referral feedback", ref.outcome.describe())
    return ref.outcome


# ---------------------------------------------------------------------------------- Given ---
@given(parsers.parse("the referral receiver is down ({fault})"))
@when(parsers.parse("the referral receiver is down ({fault})"))
@given(parsers.parse("remissmottagaren är nere ({fault})"))
@when(parsers.parse("remissmottagaren är nere ({fault})"))
def given_receiver_down(ref, fault):
    take_down(ref, TARGET, fault)


# ----------------------------------------------------------------------------------- When ---
@when("the referral receiver is back")
@when("remissmottagaren är uppe igen")
def when_receiver_back(ref):
    bring_back(ref, TARGET)


@when(parsers.parse('the clinician sends a referral to "{unit}" with the question "{question}"'))
@when(parsers.parse('läkaren skickar en remiss till "{unit}" med frågeställningen "{question}"'))
def when_send_referral(ref, unit, question):
    _send(ref, ref.contract.unit(unit), question)


@when("the clinician sends a referral to a unit that does not exist")
@when("läkaren skickar en remiss till en enhet som inte finns")
def when_send_to_unknown(ref):
    _send(ref, ref.contract.unknown_unit, "Bedömning?")


@when("the clinician sends the referral again")
@when("läkaren skickar remissen igen")
def when_send_again(ref):
    assert ref.sent is not None, "no referral was sent in an earlier step"
    _send(ref, ref.sent.unit, ref.sent.question)


# ----------------------------------------------------------------------------------- Then ---
@then("the sender is told within the bound that the referral was delivered")
@then("får avsändaren besked inom avtalad tid att remissen är levererad")
def then_delivered(ref):
    problem = expect_delivered(_feedback(ref))
    assert problem is None, problem


@then(parsers.parse('the sender is told within the bound that the referral failed with the reason "{reason}"'))
@then(parsers.parse('får avsändaren besked inom avtalad tid att remissen misslyckades med orsaken "{reason}"'))
def then_failed(ref, reason):
    problem = expect_failed(_feedback(ref), ref.contract.reason(reason).code)
    assert problem is None, problem


@then("the receiving unit has the referral")
@then("har den mottagande enheten remissen")
def then_received(ref):
    outcome = _feedback(ref)
    items = ref.client.received(ref.sent.request_id)
    if items is None:  # a real receiving unit is asked another way (its own test routine)
        attach_text("Receiving side", "not checked: the profile names no referral_receiver_admin endpoint")
        return
    assert items, (f"referral_not_received: the EHR says {outcome.status} but the receiving side has no "
                   f"record of ServiceRequest/{ref.sent.request_id}")


@then("the sender sees the receiving unit's own reason")
@then("ser avsändaren den mottagande enhetens egen motivering")
def then_own_reason(ref):
    outcome = _feedback(ref)
    own = ref.sent.unit.reject_reason
    assert own and own in outcome.reason_text, (
        f"referral_reason_missing: the unit's reason {own!r} is not in what the sender was told: "
        f"{outcome.reason_text or '(no text)'}")
