"""An OBX-5 value cut at a byte limit (VARCHAR2(4000 BYTE)), on a whole character."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator

LIMIT = 4000


def cut(raw: str, codec: str, limit: int = LIMIT) -> str:
    """``raw`` cut to at most ``limit`` bytes in ``codec``, never inside a character or an escape."""
    if len(raw.encode(codec)) <= limit:
        return raw
    lo, hi = 0, len(raw)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if len(raw[:mid].encode(codec)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    head = raw[:lo]
    if head.count("\\") % 2:  # an escape sequence was opened and not closed: drop it
        head = head[:head.rfind("\\")]
    return head


class ValueCutBytes(SegmentOperator):
    name = "obx5-cut-4000-bytes"
    changes = (f"every text OBX-5 value longer than {LIMIT} bytes (in the message's character set) is cut "
               f"to {LIMIT} bytes on a whole character: a VARCHAR2(4000 BYTE) column; the rest of the "
               "value (later repetitions and FT lines too) is lost, the message stays valid")

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.text_obx():
            raw = view.obx_value(i)
            new = cut(raw, view.codec)
            if new != raw:
                view.set_obx_value(i, new)
                changed = True
        return changed
