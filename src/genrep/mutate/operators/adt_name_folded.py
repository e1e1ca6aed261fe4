"""A patient's name folded to 7-bit ASCII at registration (ADT)."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator
from genrep.mutate.operators.diacritics_folded import fold


class AdtNameFolded(SegmentOperator):
    name = "adt-name-diacritics-folded"
    changes = "PID-5 (patient name) of a registration loses its Swedish letters: \"Åström\" -> \"Astrom\""
    targets = ("ADT",)
    integration = "registration"

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.find("PID"):
            f = view.fields(i)
            if len(f) > 5 and fold(f[5]) != f[5]:
                f[5] = fold(f[5])
                view.set_fields(i, f)
                changed = True
        return changed
