"""Two adjacent repetitions of an OBX-5 in the wrong order."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class RepetitionsSwapped(SegmentOperator):
    name = "repetitions-swapped"
    changes = ("two adjacent repetitions (~) of a text OBX-5 with different text, chosen by the seed, "
               "change places: two report lines in the wrong order")

    def edit(self, view: HL7View, rng) -> bool:
        candidates = []
        for i in view.text_obx():
            reps = view.obx_value(i).split("~")
            candidates += [(i, r) for r in range(len(reps) - 1)
                           if reps[r] != reps[r + 1] and reps[r].strip() and reps[r + 1].strip()]
        if not candidates:
            return False
        i, r = rng.choice(candidates)
        reps = view.obx_value(i).split("~")
        reps[r], reps[r + 1] = reps[r + 1], reps[r]
        view.set_obx_value(i, "~".join(reps))
        return True
