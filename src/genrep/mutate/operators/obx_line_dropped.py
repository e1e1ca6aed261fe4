"""The last report line sent as its own OBX segment is dropped (an off-by-one over the OBX loop)."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class ObxLineDropped(SegmentOperator):
    name = "obx-last-line-dropped"
    changes = ("of a report sent one OBX per line, the last OBX segment holding text is dropped "
               "(the loop over the OBX segments stops one short); set ids are left as sent")

    def edit(self, view: HL7View, rng) -> bool:
        obx = view.text_obx()
        filled = [i for i in obx if view.obx_value(i).strip()]
        if len(obx) < 2 or not filled:
            return False
        del view.segments[filled[-1]]
        del view.terminators[filled[-1]]
        return True
