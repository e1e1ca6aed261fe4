"""The first negation word of each NLL text dropped ("Ta inte dubbel dos" -> "Ta dubbel dos")."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLTextOperator, drop_first_negation


class NLLNegationDropped(NLLTextOperator):
    name = "nll-negation-dropped"
    changes = ("what NLL answers the EHR: the first Swedish negation word (ingen, inga, inget, ej, inte, "
               "icke) of each text is removed: \"Ta inte dubbel dos\" -> \"Ta dubbel dos\"")

    def change(self, text, rng):
        return drop_first_negation(text)
