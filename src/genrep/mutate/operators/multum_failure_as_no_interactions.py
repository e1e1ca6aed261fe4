"""A failed interaction check answered to the EHR as "checked, no interactions"."""

from __future__ import annotations

from genrep.mutate.message import MULTUM_RESPONSE
from genrep.mutate.operators.base import FailureOperator, api_kind


class MultumFailureAsNoInteractions(FailureOperator):
    name = "multum-failure-as-no-interactions"
    changes = ("what Multum answers the EHR: a failed check (HTTP 4xx/5xx, e.g. 503 with both servers down, "
               "or an unreadable body) becomes HTTP 200 with every check \"ok\" and empty lists: a check "
               "that was never performed shown as \"no interactions\"")
    channel = MULTUM_RESPONSE
    targets = ("interactions",)
    integration = "multum"

    def kind(self, message):
        return api_kind(message)

    def replace(self, message):
        return ({"server": "", "content_version": "", "drugs": [], "unknown_drugs": [],
                 "checks": {"drug-drug": {"status": "ok", "interactions": []},
                            "duplication": {"status": "ok", "duplicates": []}}}, "application/json")
