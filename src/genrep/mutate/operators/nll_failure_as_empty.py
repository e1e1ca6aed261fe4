"""NLL's failure answered to the EHR as an empty list."""

from __future__ import annotations

from genrep.mutate.message import NLL_RESPONSE
from genrep.mutate.operators.base import FailureOperator


class NLLFailureAsEmpty(FailureOperator):
    name = "nll-failure-as-empty-bundle"
    changes = ("what NLL answers the EHR: an error (HTTP 4xx/5xx) or an answer that is not readable JSON "
               "becomes HTTP 200 with an empty searchset Bundle, so a failed read looks like a patient "
               "with no medications")
    channel = NLL_RESPONSE
    targets = ("MedicationRequest",)
    integration = "medication_list"

    def replace(self, message):
        return ({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}, "application/fhir+json")
