"""One OBX segment stored twice (a retried insert)."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class ObxLineDuplicated(SegmentOperator):
    name = "obx-segment-duplicated"
    changes = ("one text OBX segment (chosen by the seed among those holding text) is repeated right "
               "after itself: its line, or its whole text for a one-OBX report, appears twice")

    def edit(self, view: HL7View, rng) -> bool:
        filled = [i for i in view.text_obx() if view.obx_value(i).strip()]
        if not filled:
            return False
        i = rng.choice(filled)
        view.segments.insert(i + 1, view.segments[i])
        view.terminators.insert(i + 1, view.terminators[i])
        return True
