"""presentedForm without its url (and no inline data): a report with a title and no text."""

from __future__ import annotations

from genrep.mutate.operators.base import JsonOperator, resources


class FormUrlDropped(JsonOperator):
    name = "presentedform-url-dropped"
    changes = ("presentedForm.url (the reference to the Binary with the report text) is removed from every "
               "DiagnosticReport while contentType and title stay: the report is listed but shows no text")

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "DiagnosticReport"):
            for form in res.get("presentedForm") or []:
                if isinstance(form, dict) and "url" in form and not form.get("data"):
                    del form["url"]
                    changed = True
        return changed
