"""NLL's prescription notes dropped."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLOperator, resources


class NLLNoteDropped(NLLOperator):
    name = "nll-note-dropped"
    changes = ("what NLL answers the EHR: every prescription's notes (\"Utsätts vid leverpåverkan.\", "
               "\"Kaliumkontroll om 1 månad.\") are removed")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            if res.pop("note", None):
                changed = True
        return changed
