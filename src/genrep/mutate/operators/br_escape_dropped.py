"""The FT line break escape ``\\.br\\`` dropped instead of decoded."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator

BR = "\\.br\\"


class BrEscapeDropped(SegmentOperator):
    name = "br-escape-dropped"
    changes = ("every \\.br\\ in a text OBX-5 is removed instead of becoming a line break: the lines of an "
               "FT report run together with no space between the last word of one and the first of the next")

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.text_obx():
            raw = view.obx_value(i)
            if BR in raw:
                view.set_obx_value(i, raw.replace(BR, ""))
                changed = True
        return changed
