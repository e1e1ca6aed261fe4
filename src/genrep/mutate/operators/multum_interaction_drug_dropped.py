"""An interaction reported against one of its two drugs only."""

from __future__ import annotations

from genrep.mutate.operators.base import MultumOperator, multum_interactions


class MultumInteractionDrugDropped(MultumOperator):
    name = "multum-interaction-drug-dropped"
    changes = ("what Multum answers the EHR: each interaction names only its first drug (the pair's second "
               "drug lost in a list-to-field mapping), so the clinician cannot see which prescription it is "
               "about")

    def edit(self, obj, rng) -> bool:
        changed = False
        for hit in multum_interactions(obj):
            drugs = hit.get("drugs")
            if isinstance(drugs, list) and len(drugs) > 1:
                hit["drugs"] = drugs[:1]
                changed = True
        return changed
