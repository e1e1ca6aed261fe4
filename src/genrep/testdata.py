"""Reproducible synthetic test patients built on allowlisted identities.

Names are drawn from common Swedish first names and surnames with a seeded RNG, so a seed always
gives the same patient (a failing run can be replayed exactly) and no real person's name/number
pair is ever formed from production data. Sex follows the identity's number, as the EHR derives it.
"""

from __future__ import annotations

import random

from .hl7 import Patient
from .identities import TestIdentity

FEMALE = ("Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Sara", "Ingrid", "Emma", "Astrid",
          "Märta", "Åsa", "Linnéa", "Elin", "Sigrid")
MALE = ("Lars", "Anders", "Johan", "Per", "Karl", "Erik", "Nils", "Mikael", "Björn", "Göran",
        "Örjan", "Åke", "Oskar", "Sven", "Jöns")
SURNAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
            "Persson", "Svensson", "Gustafsson", "Lindström", "Åkesson", "Öberg", "Bäckström", "Ström")


def patient_for(identity: TestIdentity, seed: int | str = 0) -> Patient:
    rng = random.Random(f"{seed}:{identity.number}")
    given = rng.choice(FEMALE if identity.sex == "F" else MALE)
    return Patient(identifier=identity.number, family=rng.choice(SURNAMES), given=given,
                   birth_date=identity.birth_date.strftime("%Y%m%d"), sex=identity.sex)
