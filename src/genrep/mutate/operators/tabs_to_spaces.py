"""Tabs turned into single spaces."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator


class TabsToSpaces(TextOperator):
    name = "tabs-to-spaces"
    changes = "every tab in the report text becomes one space: indented and tab-aligned text loses its layout"

    def change(self, lines, rng):
        return [line.replace("\t", " ") for line in lines]
