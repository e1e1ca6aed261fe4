"""NLL's modifierExtension dropped: a prescription whose meaning it changes looks normal."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLOperator, resources


class NLLModifierDropped(NLLOperator):
    name = "nll-modifier-extension-dropped"
    changes = ("what NLL answers the EHR: every modifierExtension is removed (a gateway that keeps only "
               "the elements it knows), so a prescription whose meaning it changes looks like a normal one")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            if res.pop("modifierExtension", None):
                changed = True
        return changed
