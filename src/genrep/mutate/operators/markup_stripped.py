"""An input sanitiser that strips markup and the characters < > &."""

from __future__ import annotations

import re

from genrep.mutate.operators.base import TextOperator

TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def strip_markup(line: str) -> str:
    return TAG.sub("", line).replace("<", "").replace(">", "").replace("&", "")


class MarkupStripped(TextOperator):
    name = "markup-stripped"
    changes = ("the report text goes through an HTML sanitiser before it is stored: tags like <b> are "
               "removed and every remaining <, > and & is deleted (\"< 5 mm\" -> \" 5 mm\", "
               "\"ökning & kontroll\" -> \"ökning  kontroll\")")

    def change(self, lines, rng):
        return [strip_markup(line) for line in lines]
