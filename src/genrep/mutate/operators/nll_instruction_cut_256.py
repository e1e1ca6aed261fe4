"""NLL's patient instruction cut at 256 characters on its way to the EHR."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLTextOperator

LIMIT = 256


class NLLInstructionCut256(NLLTextOperator):
    name = "nll-instruction-cut-256-chars"
    changes = (f"what NLL answers the EHR: a patient instruction longer than {LIMIT} characters is cut at "
               f"{LIMIT} (release N+1's reduced maxLength enforced on the data by a gateway): the end of "
               "the instruction never reaches the clinician")
    keys = ("patientInstruction",)

    def change(self, text, rng):
        return text[:LIMIT]
