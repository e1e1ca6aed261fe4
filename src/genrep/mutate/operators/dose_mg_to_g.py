"""Milligrams shown as grams in the EHR's medication list ("500 mg" -> "500 g")."""

from __future__ import annotations

import re

from genrep.mutate.operators.base import JsonOperator, resources, walk

MG = re.compile(r"(?<=\d)(\s?)mg\b")


class DoseMgToG(JsonOperator):
    name = "dose-mg-to-g"
    changes = ("in the EHR's MedicationRequest responses every \"mg\" after a number becomes \"g\" (dosage "
               "text, strength): a thousandfold dose")
    targets = ("MedicationRequest",)
    integration = "medication_list"

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            for d in walk(res):
                for key, value in list(d.items()):
                    if isinstance(value, str) and MG.search(value):
                        d[key] = MG.sub(r"\1g", value)
                        changed = True
                    if isinstance(value, dict) and value.get("unit") == "mg":
                        value["unit"] = "g"
                        changed = True
        return changed
