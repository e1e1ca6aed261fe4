"""presentedForm.data (inline) removed while the url is kept."""

from __future__ import annotations

from genrep.mutate.operators.base import JsonOperator, resources


class InlineDataDropped(JsonOperator):
    name = "presentedform-data-dropped"
    changes = ("of a presentedForm that holds the report both inline (data) and by reference (url), the "
               "inline data is removed: the reader falls back on the referenced Binary, which may differ")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "DiagnosticReport"):
            for form in res.get("presentedForm") or []:
                if isinstance(form, dict) and form.get("data") and form.get("url"):
                    del form["data"]
                    changed = True
        return changed
