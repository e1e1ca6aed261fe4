"""Two adjacent OBX segments arrive in the wrong order."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class ObxLinesSwapped(SegmentOperator):
    name = "obx-segments-swapped"
    changes = ("two adjacent text OBX segments with different text (chosen by the seed) change places, "
               "set ids and all: two report lines in the wrong order")

    def edit(self, view: HL7View, rng) -> bool:
        obx = view.text_obx()
        pairs = [(a, b) for a, b in zip(obx, obx[1:])
                 if b == a + 1 and view.obx_value(a) != view.obx_value(b)
                 and view.obx_value(a).strip() and view.obx_value(b).strip()]
        if not pairs:
            return False
        a, b = rng.choice(pairs)
        view.segments[a], view.segments[b] = view.segments[b], view.segments[a]
        return True
