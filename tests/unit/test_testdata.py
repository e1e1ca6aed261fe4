"""The test data builder: reproducible, plausible Swedish synthetic patients on allowlisted identities."""

import re

from genrep import hl7
from genrep.text.identities import Allowlist
from genrep.text.testdata import patient_for

ALLOW = Allowlist.load()


def test_same_seed_gives_the_same_patient_and_other_seeds_vary():
    identity = ALLOW.pick(0)
    a, b = patient_for(identity, seed=7), patient_for(identity, seed=7)
    assert (a.family, a.given, a.street, a.postal_code, a.city) == (b.family, b.given, b.street, b.postal_code, b.city)
    variants = {(p.family, p.given, p.street) for p in (patient_for(identity, seed=s) for s in range(20))}
    assert len(variants) > 5


def test_patients_are_plausible_and_use_only_allowlisted_numbers():
    for i, identity in enumerate(ALLOW.identities):
        p = patient_for(identity, seed=i)
        assert p.identifier in ALLOW
        assert re.fullmatch(r"\d{3} \d{2}", p.postal_code) and p.city and re.fullmatch(r"\D+ \d{1,2}", p.street)
        assert p.sex == identity.sex
        assert p.birth_date == (identity.birth_date.strftime("%Y%m%d") if identity.birth_date else "")
        assert "Patient(<masked>)" == repr(p)


def test_address_travels_in_pid_11():
    p = patient_for(ALLOW.pick(1), seed=3)
    msg = hl7.parse(hl7.build_adt("A04", p, control_id="T1"))
    pid11 = msg.first("PID").field(11)
    assert pid11.startswith(p.street) and p.city in pid11 and p.postal_code in pid11
