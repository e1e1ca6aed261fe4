"""Conversion to ISO 8859-1 with replacement: characters it lacks become "?"."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator


class UnmappableToQuestion(TextOperator):
    name = "latin1-unmappable-to-question-mark"
    changes = ("the report text is converted to ISO 8859-1 with replacement: every character 8859-1 lacks "
               "(en dash, curly quotes, NFD accents) becomes \"?\"")

    def change(self, lines, rng):
        return [line.encode("latin-1", errors="replace").decode("latin-1") for line in lines]
