"""The first negation word of the report dropped ("Ingen fraktur." -> "Fraktur.")."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator, drop_first_negation


class NegationDropped(TextOperator):
    name = "negation-word-dropped"
    changes = ("the first Swedish negation word of the report text (ingen, inga, inget, ej, inte, icke) is "
               "removed and the next word capitalised if it began a sentence: \"Ingen fraktur.\" -> \"Fraktur.\"")

    def change(self, lines, rng):
        for i, line in enumerate(lines):
            new = drop_first_negation(line)
            if new != line:
                return lines[:i] + [new] + lines[i + 1:]
        return lines
