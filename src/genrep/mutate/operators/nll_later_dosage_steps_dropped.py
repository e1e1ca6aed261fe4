"""Every dosage step of an NLL prescription but the first dropped."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLOperator, resources


class NLLLaterDosageStepsDropped(NLLOperator):
    name = "nll-later-dosage-steps-dropped"
    changes = ("what NLL answers the EHR: a prescription with several dosage steps (dosageInstruction "
               "elements: a taper, a loading dose then a maintenance dose) keeps only its first, as a "
               "consumer that reads dosageInstruction[0] would show it")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            steps = res.get("dosageInstruction")
            if isinstance(steps, list) and len(steps) > 1:
                res["dosageInstruction"] = steps[:1]
                changed = True
        return changed
