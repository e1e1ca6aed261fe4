"""The Binary holding the report served shorter than the report."""

from __future__ import annotations

from genrep.mutate.operators.base import BinaryTextOperator

LIMIT = 1000


class BinaryTextCut(BinaryTextOperator):
    name = "binary-cut-1000-chars"
    changes = (f"the Binary a DiagnosticReport refers to (presentedForm.url) is served cut after {LIMIT} "
               "characters: the API truncates what the store holds complete")

    def change(self, text, rng):
        return text[:LIMIT]
