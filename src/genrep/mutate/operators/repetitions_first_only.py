"""A repeating OBX-5 read as a single value: only its first repetition is kept."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class RepetitionsFirstOnly(SegmentOperator):
    name = "repetitions-after-first-lost"
    changes = ("a text OBX-5 with repetitions (~) keeps only its first repetition (the field read as a "
               "single value): every later line of that OBX is lost")

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.text_obx():
            raw = view.obx_value(i)
            first, sep, rest = raw.partition("~")
            if sep and rest.replace("~", "").strip():
                view.set_obx_value(i, first)
                changed = True
        return changed
