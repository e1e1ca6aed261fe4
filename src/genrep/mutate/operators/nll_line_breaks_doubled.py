"""Every line break of NLL's texts written twice (CRLF read as two breaks upstream)."""

from __future__ import annotations

from genrep.mutate.operators.base import LINE_BREAK, NLLTextOperator


class NLLLineBreaksDoubled(NLLTextOperator):
    name = "nll-line-breaks-doubled"
    changes = ("what NLL answers the EHR: every line break of a text becomes two (a CRLF read as two "
               "breaks by a gateway), so each line of an instruction is followed by a blank one")

    def change(self, text, rng):
        return LINE_BREAK.sub(lambda m: m.group(0) * 2, text)
