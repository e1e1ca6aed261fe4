"""An older version of an NLL prescription served (a stale cache)."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLOperator, resources


class NLLVersionRolledBack(NLLOperator):
    name = "nll-version-rolled-back"
    changes = ("what NLL answers the EHR: a prescription at version 2 or later is served with the previous "
               "version number (meta.versionId 2 -> 1), as a cache between NLL and the EHR would serve it")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            meta = res.get("meta")
            if isinstance(meta, dict) and str(meta.get("versionId", "")).isdigit() and int(meta["versionId"]) > 1:
                meta["versionId"] = str(int(meta["versionId"]) - 1)
                changed = True
        return changed
