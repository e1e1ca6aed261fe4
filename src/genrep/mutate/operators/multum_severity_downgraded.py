"""Multum's interaction severities one step milder."""

from __future__ import annotations

from genrep.mutate.operators.base import MultumOperator, multum_interactions

MILDER = {"contraindicated": "major", "major": "moderate", "moderate": "minor"}


class MultumSeverityDowngraded(MultumOperator):
    name = "multum-severity-downgraded"
    changes = ("what Multum answers the EHR: every interaction's severity is one step milder "
               "(contraindicated -> major, major -> moderate, moderate -> minor), as a wrong code mapping "
               "between two severity scales would show it")

    def edit(self, obj, rng) -> bool:
        changed = False
        for hit in multum_interactions(obj):
            if hit.get("severity") in MILDER:
                hit["severity"] = MILDER[hit["severity"]]
                changed = True
        return changed
