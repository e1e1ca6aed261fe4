"""An instruction NLL withholds (data-absent-reason) served as an empty text."""

from __future__ import annotations

from genrep.mutate.operators.base import DATA_ABSENT, NLLOperator, resources


class NLLAbsentAsBlank(NLLOperator):
    name = "nll-absent-instruction-blank"
    changes = ("what NLL answers the EHR: a patient instruction NLL withholds or does not have "
               "(_patientInstruction with a data-absent-reason: masked, unknown) becomes an empty "
               "patientInstruction \"\": \"not known\" turned into \"nothing to say\"")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            for dosage in res.get("dosageInstruction") or []:
                if not isinstance(dosage, dict):
                    continue
                absent = dosage.get("_patientInstruction")
                if isinstance(absent, dict) and any(isinstance(e, dict) and e.get("url") == DATA_ABSENT
                                                    for e in absent.get("extension") or []):
                    del dosage["_patientInstruction"]
                    dosage["patientInstruction"] = ""
                    changed = True
        return changed
