"""The registration read back (``integrations.shown_fields.check_registration``), the check that lets
the registration operators of ``genrep mutate`` be caught: an ADT goes through an operator, the
receiving side parses it as the virtual EHR does and serves the Patient as its FHIR API does, and
the check flags exactly what the operator changed (and nothing on a clean registration)."""

from __future__ import annotations

import pytest

from genrep import hl7
from genrep.hl7.parse import decode, parse, patient_from
from genrep.integrations.shown_fields import check_registration
from genrep.mutate.message import MLLP_INBOUND, Message
from genrep.mutate.operators import select
from genrep.results.failure_kinds import kinds_in, lookup
from genrep.sim.ehr_fhir import patient_resource
from genrep.text.identities import Allowlist


def _patient(**extra) -> hl7.Patient:
    ident = Allowlist.load().pick(3, kind="personnummer")
    fields = dict(identifier=ident.number, family="Åström", given="Björn", birth_date="19800212", sex="M")
    fields.update(extra)
    return hl7.Patient(**fields)


def _served(adt: bytes) -> dict:
    """The Patient the virtual EHR serves for this ADT (its parse, its FHIR shape)."""
    return patient_resource({"id": "pat-1", **patient_from(parse(decode(adt)))})


def _adt(patient: hl7.Patient) -> bytes:
    return hl7.encode(hl7.build_adt("A04", patient, control_id="C1"))


def test_a_clean_registration_reads_back_as_sent():
    assert check_registration(_patient(), _served(_adt(_patient()))) == []


@pytest.mark.parametrize("name, kinds", [
    ("adt-name-diacritics-folded", {"combining_marks_lost"}),
    ("adt-family-given-swapped", {"lost_words", "added_words"}),
    ("adt-birth-date-shifted", {"wrong_birth_date"}),
])
def test_each_registration_operator_is_flagged_with_its_classification(name, kinds):
    op = select([name])[0]
    sent = _patient()
    adt = _adt(sent)
    changed = op.apply(Message(MLLP_INBOUND, adt)).data
    assert changed != adt
    problems = check_registration(sent, _served(changed))
    found = set(kinds_in("\n".join(problems)))
    assert kinds <= found, problems
    assert all(lookup(k).source != "unregistered" for k in found)


def test_what_the_message_did_not_carry_is_not_compared():
    # the registration features send no birth date or sex: the EHR derives them (checked there)
    sent = _patient(birth_date="", sex="")
    served = _served(_adt(sent))
    served["birthDate"], served["gender"] = "1912-12-12", "female"
    assert check_registration(sent, served) == []
    assert not select(["adt-birth-date-shifted"])[0].applies(Message(MLLP_INBOUND, _adt(sent)))


def test_a_missing_name_and_a_wrong_sex_are_flagged():
    sent = _patient()
    served = _served(_adt(sent))
    del served["name"]
    served["gender"] = "female"
    problems = check_registration(sent, served)
    assert any(p.startswith("The family name") for p in problems)
    assert any(p.startswith("wrong_sex:") for p in problems)
