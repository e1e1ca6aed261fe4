"""The report text served with its first negation word dropped (a display-side filter)."""

from __future__ import annotations

from genrep.mutate.operators.base import BinaryTextOperator, drop_first_negation


class BinaryNegationDropped(BinaryTextOperator):
    name = "binary-negation-dropped"
    changes = ("the Binary holding the report text is served with its first negation word (ingen, inga, "
               "inget, ej, inte, icke) removed: what the FHIR API shows says the opposite of what is stored")

    def change(self, text, rng):
        return drop_first_negation(text)
