"""Decimal comma turned into a decimal point ("4,5 mm" -> "4.5 mm")."""

from __future__ import annotations

import re

from genrep.mutate.operators.base import TextOperator

DECIMAL = re.compile(r"(?<=\d),(?=\d)")


class DecimalCommaToPoint(TextOperator):
    name = "decimal-comma-to-point"
    changes = "a Swedish decimal comma between digits becomes a point: \"4,5 mm\" -> \"4.5 mm\""

    def change(self, lines, rng):
        return [DECIMAL.sub(".", line) for line in lines]
