"""NLL's texts cut at a byte limit (a character broken at the cut is dropped)."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLTextOperator

LIMIT = 128


class NLLTextCutBytes(NLLTextOperator):
    name = "nll-text-cut-128-bytes"
    changes = (f"what NLL answers the EHR: every text of a prescription (instruction, dosage text, "
               f"administration instruction, note) longer than {LIMIT} UTF-8 bytes is cut at {LIMIT} bytes, a "
               "character split by the cut dropped (a byte-sized column between NLL and the EHR)")

    def change(self, text, rng):
        data = text.encode("utf-8")
        if len(data) <= LIMIT:
            return text
        return data[:LIMIT].decode("utf-8", errors="ignore")
