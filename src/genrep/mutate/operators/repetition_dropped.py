"""One repetition of a repeating OBX-5 lost."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class RepetitionDropped(SegmentOperator):
    name = "repetition-dropped"
    changes = ("one repetition (~) of a repeating text OBX-5, after the first and holding text, chosen by "
               "the seed, is removed: one report line lost from the middle")

    def edit(self, view: HL7View, rng) -> bool:
        candidates = []
        for i in view.text_obx():
            reps = view.obx_value(i).split("~")
            candidates += [(i, r) for r in range(1, len(reps)) if reps[r].strip()]
        if not candidates:
            return False
        i, r = rng.choice(candidates)
        reps = view.obx_value(i).split("~")
        del reps[r]
        view.set_obx_value(i, "~".join(reps))
        return True
