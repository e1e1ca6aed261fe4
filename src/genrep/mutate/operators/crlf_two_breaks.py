"""A line-break conversion that maps CR and LF each to a line break: CRLF becomes two."""

from __future__ import annotations

import re

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator

# an escaped CRLF inside text: one hex escape (\X0D0A\) or two (\X0D\\X0A\)
CRLF = re.compile(r"\\X0D0A\\|\\X0D\\\\X0A\\", re.IGNORECASE)


class CrlfTwoBreaks(SegmentOperator):
    name = "crlf-to-two-line-breaks"
    changes = ("a CRLF -> LF conversion that maps CR and LF each to LF: every escaped CRLF inside the "
               "report text becomes two line breaks, so an empty line appears where the sender had "
               "one line break")

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.text_obx():
            raw = view.obx_value(i)
            new = CRLF.sub(r"\\X0A\\\\X0A\\", raw)
            if new != raw:
                view.set_obx_value(i, new)
                changed = True
        return changed
