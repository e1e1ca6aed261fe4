"""Patient-journey steps (Swedish first, English too): registration, encounters, referrals, and
Swedish phrasings that reuse the integration steps' checks.

A journey crosses integrations in the order a patient does; each step calls the same library
code and makes the same checks as the integration's own scenarios, so a journey through a broken
integration fails with that integration's message.
"""

from __future__ import annotations

import zlib
from datetime import date

from pytest_bdd import given, parsers, then, when

from genrep import hl7
from genrep.text import corpus
from genrep.integrations.radiology import new_accession
from genrep.results.allure import attach_text, hl7_for_display
from genrep.text.testdata import patient_for

from .medication_steps import given_nll_fault
from .radiology_steps import _check_stored, _send

KINDS = {"personnummer": dict(kind="personnummer"), "samordningsnummer": dict(kind="samordningsnummer"),
         "över 100 år": dict(kind="personnummer", min_age=100),
         "personal identity number": dict(kind="personnummer"),
         "coordination number": dict(kind="samordningsnummer"),
         "personal identity number, over 100 years old": dict(kind="personnummer", min_age=100),
         "reservnummer": dict(kind="reservnummer"), "reserve number": dict(kind="reservnummer")}


# ----------------------------------------------------------------------- identity, encounter ---
@given(parsers.parse("en testpatient med {kind}"))
@given(parsers.parse("a test patient with a {kind}"))
def given_identity(subject, allowlist, request, kind):
    """A patient whose birth date and sex are NOT sent: the EHR must derive them from the number."""
    filters = KINDS.get(kind)
    assert filters, f"unknown identity kind {kind!r} (known: {', '.join(KINDS)})"
    identity = allowlist.pick(zlib.crc32(request.node.nodeid.encode()) % 1000, **filters)
    patient = patient_for(identity, seed=request.node.name)
    subject.patient = hl7.Patient(identifier=patient.identifier, family=patient.family, given=patient.given,
                                  birth_date="", sex="")
    subject.identity = identity


def _adt(subject, radiology_client, event: str, **pv1) -> None:
    ex = radiology_client.register(subject.patient, event, **pv1)
    attach_text(f"HL7 sent (ADT^{event})", hl7_for_display(ex.message), kind="hl7")
    assert ex.ack and ex.ack.accepted, (
        f"registration_refused: the EHR answered {ex.ack.code if ex.ack else 'nothing'} to ADT^{event}: "
        f"{ex.ack.text if ex.ack else ''}")
    subject.fhir = radiology_client.find_patient(subject.patient.identifier)
    assert subject.fhir is not None, f"not_stored: ADT^{event} acknowledged but the patient is not readable"
    problems = radiology_client.check_registration(subject.patient, subject.fhir)
    assert not problems, "\n".join(problems)


@when("patienten skrivs in på akuten")
@given("patienten skrivs in på akuten")
@when("the patient is registered at the emergency department")
def when_emergency(subject, radiology_client):
    _adt(subject, radiology_client, "A04", patient_class="E", location="Akutmottagningen")


@when(parsers.parse('patienten registreras på vårdcentralen "{unit}"'))
@given(parsers.parse('patienten registreras på vårdcentralen "{unit}"'))
def when_primary_care(subject, radiology_client, unit):
    _adt(subject, radiology_client, "A04", patient_class="O", location=unit)


@when(parsers.parse('patienten läggs in på avdelning "{ward}"'))
@when(parsers.parse('the patient is admitted to ward "{ward}"'))
def when_admit(subject, radiology_client, ward):
    _adt(subject, radiology_client, "A01", patient_class="I", location=ward)


@when(parsers.parse('patienten flyttas till avdelning "{ward}"'))
@when(parsers.parse('the patient is transferred to ward "{ward}"'))
def when_transfer(subject, radiology_client, ward):
    enc = radiology_client.encounter(subject.fhir_id) or {}
    prior = next((loc["location"].get("display", "") for loc in reversed(enc.get("location", []))), "")
    _adt(subject, radiology_client, "A02", patient_class="I", location=ward, prior_location=prior)


@when("patienten skrivs ut")
@when("the patient is discharged")
def when_discharge(subject, radiology_client):
    _adt(subject, radiology_client, "A03", patient_class="I")


@then(parsers.parse('visar journalen vårdkontakten som pågående på "{place}"'))
@then(parsers.parse('the EHR shows the encounter in progress at "{place}"'))
def then_encounter_at(subject, radiology_client, place):
    enc = radiology_client.encounter(subject.fhir_id)
    assert enc is not None, "no_encounter: the EHR shows no encounter for the patient"
    current = [loc["location"].get("display") for loc in enc.get("location", []) if loc.get("status") == "active"]
    assert enc["status"] == "in-progress" and current == [place], (
        f"wrong_encounter: the EHR shows status {enc['status']} at {current or 'no location'}, expected "
        f"in-progress at {place}")


@then("visar journalen vårdkontakten som avslutad")
@then("the EHR shows the encounter as finished")
def then_encounter_finished(subject, radiology_client):
    enc = radiology_client.encounter(subject.fhir_id)
    assert enc is not None and enc["status"] == "finished", (
        f"wrong_encounter: after discharge the EHR shows the encounter as {enc and enc['status']}")


@then("visar journalen patientens födelsedatum och kön härledda från identiteten")
@then("the EHR shows the birth date and sex derived from the identity")
def then_derived(subject):
    identity = subject.identity
    got_birth, got_sex = subject.fhir.get("birthDate"), subject.fhir.get("gender")
    want_birth = identity.birth_date.isoformat()
    want_sex = {"F": "female", "M": "male"}[identity.sex]
    age = date.today().year - identity.birth_date.year
    assert got_birth == want_birth, (
        f"wrong_birth_date: the EHR shows birth date {got_birth or 'none'} for a {identity.kind} of a person "
        f"born {want_birth} (age {age}; 10-digit form {identity.ten_digit()[:6]}{identity.ten_digit()[6]}....)")
    assert got_sex == want_sex, f"wrong_sex: the EHR shows {got_sex}, the identity says {want_sex}"


@then("visar journalen inget födelsedatum och inget kön gissat ur reservnumret")
@then("the EHR guesses no birth date and no sex from the reserve number")
def then_nothing_guessed(subject):
    got_birth, got_sex = subject.fhir.get("birthDate"), subject.fhir.get("gender")
    assert got_birth is None, (f"wrong_birth_date: the EHR shows birth date {got_birth} for a reserve number, "
                               "which carries none (guessed from its digits)")
    assert got_sex in (None, "unknown"), f"wrong_sex: the EHR shows {got_sex} for a reserve number, which carries none"


# -------------------------------------------------------------------------- referral, report ---
@when(parsers.parse('läkaren remitterar patienten till "{exam}" med frågeställningen "{question}"'))
def when_referral(rad, radiology_client, exam, question):
    rad.order = hl7.Order(placer=new_accession(), code="RAD", title=exam, reason=question)
    ex = radiology_client.send_order(rad.patient, rad.order)
    attach_text("HL7 sent (ORM^O01)", hl7_for_display(ex.message), kind="hl7")
    assert ex.ack and ex.ack.accepted, f"order_refused: ORM^O01 got {ex.ack.code if ex.ack else 'no ACK'}: {ex.ack.text if ex.ack else ''}"


@then("finns remissen i journalen som aktiv")
def then_referral_active(rad, radiology_client):
    orders = [o for o in radiology_client.orders(rad.subject.fhir_id)
              if any(i.get("value") == rad.order.placer for i in o.get("identifier", []))]
    assert orders, "not_stored: the referral was acknowledged but is not in the EHR's order list"
    assert orders[0]["status"] == "active", f"wrong_status: the referral is {orders[0]['status']}"


@when(parsers.parse('RIS besvarar remissen med {kind} svar "{name}"'))
def when_answer_referral(rad, kind, name):
    status = {"ett preliminärt": "P", "ett slutligt": "F", "ett rättat": "C"}.get(kind)
    assert status, f"unknown report kind {kind!r} (ett preliminärt | ett slutligt | ett rättat)"
    accession = rad.report.accession if rad.report is not None else new_accession()
    order = getattr(rad, "order", None)
    # the report answers the referral: the examination it names (OBR-4) is the one ordered, as a RIS
    # sends it (an EHR may show the order's name; the read-back compares the examination too)
    exam = {"code": order.code, "title": order.title} if order is not None else {}
    rad.report = hl7.Report(accession=accession, text=corpus.load_report(name), status=status,
                            placer_order=order.placer if order is not None else None, **exam)
    rad.versions.append(status)
    ex = _send(rad)
    assert ex.ack and ex.ack.accepted, f"refused: the {status} report got {ex.ack.code}: {ex.ack.text}"


@then("är remissen besvarad och svaret kopplat till remissen")
def then_referral_answered(rad, radiology_client):
    stored = _check_stored(rad, rad.report, rad.report.text)
    order = next(o for o in radiology_client.orders(rad.subject.fhir_id)
                 if any(i.get("value") == rad.order.placer for i in o.get("identifier", [])))
    assert order["status"] == "completed", f"referral_open: the referral is still {order['status']} after the final report"
    based_on = [b.get("reference") for b in stored.resource.get("basedOn", [])]
    assert f"ServiceRequest/{order['id']}" in based_on, (
        f"report_unlinked: the report is not linked to its referral (basedOn {based_on or 'missing'})")


# --------------------------------------------------------------------- medication list, Multum ---
@given("NLL är otillgängligt")
@when("NLL blir otillgängligt")
def given_nll_down_sv(med):
    given_nll_fault(med, "unavailable")


@when("NLL är tillgängligt igen")
def when_nll_back(med):
    med.nll_recovers()


@when(parsers.parse('NLL byter till release "{release}"'))
def when_nll_release(med, release):
    med.admin.release(release)


@when(parsers.parse('Multum-servern "{target}" slutar svara mitt i ronden'))
def when_multum_lost(mul, target):
    mul.inject(target, "stopped")
    mul.faulted.append(target)


@then(parsers.parse('visar journalen att "{a}" och "{b}" är samma sorts läkemedel ("{group}")'))
def then_duplicate(mul, a, b, group):
    r = mul.result
    assert r.performed, f"check_not_performed: the interaction check was not performed: {r.reason}"
    dups = r.raw.get("duplicates", [])
    assert any({a, b} <= {d.lower() for d in dup.get("drugs", [])} and dup.get("group") == group for dup in dups), (
        f"missed_duplication: {a} and {b} ({group}) not reported as duplicates: {dups}")
