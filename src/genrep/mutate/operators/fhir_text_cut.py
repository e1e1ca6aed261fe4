"""FHIR text fields of a DiagnosticReport cut at a few characters."""

from __future__ import annotations

from genrep.mutate.operators.base import JsonOperator, cut_strings, resources

LIMIT = 5


class FhirTextCut(JsonOperator):
    name = "fhir-text-cut-5-chars"
    changes = (f"the display strings of every DiagnosticReport (code.text, presentedForm.title, "
               f"conclusion) are cut to {LIMIT} characters: \"Röntgen\" -> \"Röntg\"")

    def edit(self, obj, rng) -> bool:
        holders = []
        for res in resources(obj, "DiagnosticReport"):
            holders += [(res.get("code"), "text"), (res, "conclusion")]
            holders += [(f, "title") for f in res.get("presentedForm") or []]
        return cut_strings(holders, LIMIT)
