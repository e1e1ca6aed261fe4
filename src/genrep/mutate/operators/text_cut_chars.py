"""Report text cut at a character limit (a fixed-width text column)."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator

LIMIT = 1024


class TextCutChars(TextOperator):
    name = "text-cut-1024-chars"
    changes = (f"the report text is cut after {LIMIT} characters (line breaks counted): the line at the "
               "limit ends there and every later line is lost, as a CHAR(1024) column stores it")

    def change(self, lines, rng):
        out, used = [], 0
        for line in lines:
            room = LIMIT - used
            if room <= 0:
                break
            out.append(line[:room])
            used += len(line) + 1
        return out
