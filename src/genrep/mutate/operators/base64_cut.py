"""An attachment's base64 data cut (still decodable: a shorter text, no error)."""

from __future__ import annotations

from genrep.mutate.operators.base import JsonOperator, walk

LIMIT = 64  # base64 characters: a multiple of 4, so the cut data still decodes


class Base64Cut(JsonOperator):
    name = "attachment-base64-cut"
    changes = (f"an attachment's base64 data (presentedForm.data, Binary.data) is cut to {LIMIT} characters, "
               f"still valid base64: the report decodes to its first {LIMIT * 3 // 4} bytes, no error")
    targets = ("DiagnosticReport", "Binary")

    def edit(self, obj, rng) -> bool:
        changed = False
        for d in walk(obj):
            data = d.get("data")
            if (isinstance(data, str) and len(data) > LIMIT
                    and (d.get("resourceType") == "Binary" or "contentType" in d)):
                d["data"] = data[:LIMIT]
                changed = True
        return changed
