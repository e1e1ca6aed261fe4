"""Swedish letters folded to 7-bit ASCII (å -> a, ä -> a, ö -> o)."""

from __future__ import annotations

import unicodedata

from genrep.mutate.operators.base import TextOperator


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


class DiacriticsFolded(TextOperator):
    name = "diacritics-folded"
    changes = ("a 7-bit conversion of the report text: å, ä -> a, ö -> o, é -> e (and capitals), so "
               "\"ödem\" reads \"odem\" and \"lårben\" \"larben\"")

    def change(self, lines, rng):
        return [fold(line) for line in lines]
