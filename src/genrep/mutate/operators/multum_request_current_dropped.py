"""The EHR's interaction check sent to Multum without the patient's current drugs."""

from __future__ import annotations

import json

from genrep.mutate.message import MULTUM_REQUEST
from genrep.mutate.operators.base import Operator, api_kind


class MultumRequestCurrentDropped(Operator):
    name = "multum-request-current-drugs-dropped"
    changes = ("what the EHR asks Multum: the check's drug list keeps only the new drug (the patient's "
               "current drugs lost on the way), so nothing can interact and Multum truthfully answers "
               "\"no interactions\"")
    channel = MULTUM_REQUEST
    targets = ("interactions",)
    integration = "multum"

    def _new(self, message) -> bytes | None:
        if message.channel != self.channel or api_kind(message) not in self.targets or not message.is_json:
            return None
        try:
            body = json.loads(message.data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        drugs = body.get("drugs") if isinstance(body, dict) else None
        if not isinstance(drugs, list) or len(drugs) < 2:
            return None
        body["drugs"] = drugs[-1:]
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def applies(self, message) -> bool:
        return self._new(message) is not None

    def apply(self, message):
        new = self._new(message)
        return message if new is None else message.with_data(new)
