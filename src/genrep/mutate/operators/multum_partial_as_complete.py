"""A check type Multum could not perform shown as performed with nothing found."""

from __future__ import annotations

from genrep.mutate.operators.base import MultumOperator, multum_checks

LISTS = {"drug-drug": "interactions", "duplication": "duplicates"}


class MultumPartialAsComplete(MultumOperator):
    name = "multum-partial-as-complete"
    changes = ("what Multum answers the EHR: a check type that failed (status \"error\", e.g. duplication) "
               "is rewritten as status \"ok\" with an empty list, so a partial check looks complete and clean")

    def edit(self, obj, rng) -> bool:
        changed = False
        checks = multum_checks(obj)
        for name, check in list(checks.items()):
            if not isinstance(check, dict) or check.get("status") != "ok":
                checks[name] = {"status": "ok", LISTS.get(name, "results"): []}
                changed = True
        return changed
