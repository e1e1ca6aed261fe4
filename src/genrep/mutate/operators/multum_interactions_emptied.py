"""Multum's drug-drug interactions emptied in a successful check."""

from __future__ import annotations

from genrep.mutate.operators.base import MultumOperator, multum_checks, multum_interactions


class MultumInteractionsEmptied(MultumOperator):
    name = "multum-interactions-emptied"
    changes = ("what Multum answers the EHR: a drug-drug check that found interactions answers \"ok\" with an "
               "empty list (HTTP 200): warfarin + ibuprofen checked, \"no interactions\"")

    def edit(self, obj, rng) -> bool:
        if not multum_interactions(obj):
            return False
        multum_checks(obj)["drug-drug"]["interactions"] = []
        return True
