"""NLL's multi-line texts flattened to one line."""

from __future__ import annotations

from genrep.mutate.operators.base import LINE_BREAK, NLLTextOperator


class NLLLineBreaksToSpaces(NLLTextOperator):
    name = "nll-line-breaks-to-spaces"
    changes = ("what NLL answers the EHR: the line breaks of every text become spaces (a one-line field "
               "on the way), so a schedule of several lines reads as one run-on line")

    def change(self, text, rng):
        return LINE_BREAK.sub(" ", text)
