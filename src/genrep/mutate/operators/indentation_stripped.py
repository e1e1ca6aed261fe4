"""Leading whitespace of every line removed."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator


class IndentationStripped(TextOperator):
    name = "indentation-stripped"
    changes = ("the leading spaces and tabs of every report line are removed: a continuation line of a "
               "numbered conclusion reads as a line of its own")

    def change(self, lines, rng):
        return [line.lstrip(" \t") for line in lines]
