"""``\\T\\`` decoded to ``&`` and then decoded again as the subcomponent separator."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator

T = "\\T\\"


class AmpersandSplitsText(SegmentOperator):
    name = "ampersand-decoded-twice"
    changes = ("\\T\\ is decoded to & and the value is then decoded a second time, where & is the "
               "subcomponent separator: the text after the first & of that repetition is lost "
               "(\"ökning & kontroll\" -> \"ökning \")")

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.text_obx():
            reps = view.obx_value(i).split("~")
            new = [r[:r.index(T)] if T in r else r for r in reps]
            if new != reps:
                view.set_obx_value(i, "~".join(new))
                changed = True
        return changed
