"""NLL's administration instruction dropped (both release shapes)."""

from __future__ import annotations

from genrep.mutate.operators.base import ADMIN_EXTENSION, NLLOperator, resources


class NLLAdministrationDropped(NLLOperator):
    name = "nll-administration-instruction-dropped"
    changes = ("what NLL answers the EHR: the administration instruction (\"Sväljs hela med ett glas "
               "vatten.\": additionalInstruction in release N, the NLLAdministrationInstruction extension "
               "in N+1) is removed from every dosage")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            for dosage in res.get("dosageInstruction") or []:
                if not isinstance(dosage, dict):
                    continue
                if dosage.pop("additionalInstruction", None) is not None:
                    changed = True
                ext = dosage.get("extension")
                if isinstance(ext, list):
                    kept = [e for e in ext if not (isinstance(e, dict) and e.get("url") == ADMIN_EXTENSION)]
                    if len(kept) != len(ext):
                        changed = True
                        if kept:
                            dosage["extension"] = kept
                        else:
                            del dosage["extension"]
        return changed
