"""NLL's answer to the EHR cut in half (malformed JSON)."""

from __future__ import annotations

from genrep.mutate.message import NLL_RESPONSE
from genrep.mutate.operators.base import CutOperator


class NLLAnswerCut(CutOperator):
    name = "nll-answer-cut-in-half"
    changes = ("what NLL answers the EHR: the JSON body of a successful answer is cut in half (status 200, "
               "a connection dropped mid-answer): the EHR must say NLL is unavailable, not show a partial "
               "or empty list")
    channel = NLL_RESPONSE
    targets = ("MedicationRequest",)
    integration = "medication_list"
