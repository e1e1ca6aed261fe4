"""The examination name of a DiagnosticReport cut at a few characters, and nothing else: the
report text, its title and conclusion untouched (``fhir-text-cut-5-chars`` cuts those too)."""

from __future__ import annotations

from genrep.mutate.operators.base import JsonOperator, cut_strings, resources

LIMIT = 5


class FhirExaminationCut(JsonOperator):
    name = "fhir-examination-cut-5-chars"
    changes = (f"the examination name of every DiagnosticReport (code.text and each coding's display) is cut "
               f"to {LIMIT} characters, the report text untouched: \"Röntgen\" -> \"Röntg\"")

    def edit(self, obj, rng) -> bool:
        holders = []
        for res in resources(obj, "DiagnosticReport"):
            code = res.get("code")
            if isinstance(code, dict):
                holders += [(code, "text")] + [(c, "display") for c in code.get("coding") or []]
        return cut_strings(holders, LIMIT)
