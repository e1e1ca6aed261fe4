"""Millimetres read as centimetres ("4 mm" -> "4 cm")."""

from __future__ import annotations

import re

from genrep.mutate.operators.base import TextOperator

MM = re.compile(r"(?<=\d)(\s?)mm\b")


class UnitMmToCm(TextOperator):
    name = "unit-mm-to-cm"
    changes = "a size in millimetres after a number is shown in centimetres: \"4 mm nodulus\" -> \"4 cm nodulus\""

    def change(self, lines, rng):
        return [MM.sub(r"\1cm", line) for line in lines]
