"""Blank lines between paragraphs removed."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator


class BlankLinesRemoved(TextOperator):
    name = "blank-lines-removed"
    changes = ("empty lines inside the report text are removed: headings and paragraphs (Fynd, Slutsats) "
               "run together")

    def change(self, lines, rng):
        inner = [line for line in lines if line.strip()]
        return inner if len(inner) != len(lines) and inner else lines
