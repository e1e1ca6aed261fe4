"""Reproducible synthetic test patients built on allowlisted identities.

Names and addresses (streets and post towns of Södra Älvsborg) are drawn with a seeded RNG, so a seed always
gives the same patient (a failing run can be replayed exactly) and no real person's name/number
pair is ever formed from production data. Sex follows the identity's number, as the EHR derives it.
"""

from __future__ import annotations

import random

from genrep.hl7 import Patient
from genrep.text.identities import TestIdentity

FEMALE = ("Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Sara", "Ingrid", "Emma", "Astrid",
          "Märta", "Åsa", "Linnéa", "Elin", "Sigrid")
MALE = ("Lars", "Anders", "Johan", "Per", "Karl", "Erik", "Nils", "Mikael", "Björn", "Göran",
        "Örjan", "Åke", "Oskar", "Sven", "Jöns")
# Streets and post towns of the first go-live's area (Södra Älvsborg): plausible, not real people's
STREETS = ("Storgatan", "Kyrkogatan", "Allégatan", "Åsbogatan", "Västerlånggatan", "Björkvägen",
           "Lärkvägen", "Ekängsvägen", "Skolgatan", "Järnvägsgatan", "Sjöbovägen", "Älvsborgsgatan")
TOWNS = (("503 30", "Borås"), ("504 31", "Borås"), ("511 54", "Kinna"), ("523 30", "Ulricehamn"),
         ("512 50", "Svenljunga"), ("514 32", "Tranemo"), ("511 62", "Skene"), ("517 34", "Bollebygd"))
SURNAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
            "Persson", "Svensson", "Gustafsson", "Lindström", "Åkesson", "Öberg", "Bäckström", "Ström")


def patient_for(identity: TestIdentity, seed: int | str = 0) -> Patient:
    rng = random.Random(f"{seed}:{identity.number}")
    given = rng.choice(FEMALE if identity.sex == "F" else MALE)
    postal_code, city = rng.choice(TOWNS)
    return Patient(identifier=identity.number, family=rng.choice(SURNAMES), given=given,
                   birth_date=identity.birth_date.strftime("%Y%m%d") if identity.birth_date else "",
                   sex=identity.sex,
                   street=f"{rng.choice(STREETS)} {rng.randint(1, 60)}", postal_code=postal_code, city=city)
