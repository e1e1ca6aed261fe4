"""Multum's answer to the EHR cut in half (malformed JSON)."""

from __future__ import annotations

from genrep.mutate.message import MULTUM_RESPONSE
from genrep.mutate.operators.base import CutOperator, api_kind


class MultumAnswerCut(CutOperator):
    name = "multum-answer-cut-in-half"
    changes = ("what Multum answers the EHR: the JSON body of a successful check is cut in half (status 200): "
               "the EHR must say the check was not performed, never \"no interactions\"")
    channel = MULTUM_RESPONSE
    targets = ("interactions",)
    integration = "multum"

    def kind(self, message):
        return api_kind(message)
