"""One prescription left out of NLL's answer."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLOperator


class NLLPrescriptionDropped(NLLOperator):
    name = "nll-prescription-dropped"
    changes = ("what NLL answers the EHR: one MedicationRequest of the patient's searchset (the last) is "
               "left out and the total lowered to match: a list one prescription short, or an empty list "
               "for a patient with one")

    def edit(self, obj, rng) -> bool:
        if not isinstance(obj, dict) or obj.get("resourceType") != "Bundle":
            return False
        entries = obj.get("entry")
        if not isinstance(entries, list):
            return False
        last = max((i for i, e in enumerate(entries) if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                    and e["resource"].get("resourceType") == "MedicationRequest"), default=None)
        if last is None:
            return False
        del entries[last]
        if isinstance(obj.get("total"), int) and obj["total"] > 0:
            obj["total"] -= 1
        return True
