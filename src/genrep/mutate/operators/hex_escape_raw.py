"""Hex escapes (``\\Xhh..\\``) left raw: shown as text instead of decoded."""

from __future__ import annotations

import re

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator

HEX = re.compile(r"\\(X(?:[0-9A-Fa-f]{2})+)\\")


class HexEscapeRaw(SegmentOperator):
    name = "hex-escape-left-raw"
    changes = ("every hex escape \\Xhh..\\ in a text OBX-5 is left undecoded: the reader sees the "
               "characters \\X0D0A\\ or \\XC3A4\\ where a line break or an ä was sent")

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.text_obx():
            raw = view.obx_value(i)
            new = HEX.sub(lambda m: "\\E\\" + m.group(1) + "\\E\\", raw)
            if new != raw:
                view.set_obx_value(i, new)
                changed = True
        return changed
