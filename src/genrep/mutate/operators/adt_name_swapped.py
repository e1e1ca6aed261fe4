"""A patient's family and given names swapped at registration (ADT)."""

from __future__ import annotations

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class AdtNameSwapped(SegmentOperator):
    name = "adt-family-given-swapped"
    changes = ("PID-5 (patient name) of a registration has its family and given name components swapped "
               "(\"Ström^Björn\" -> \"Björn^Ström\"): a mapping that reads the components in the wrong order")
    targets = ("ADT",)
    integration = "registration"

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.find("PID"):
            f = view.fields(i)
            if len(f) <= 5:
                continue
            parts = f[5].split("^")  # the view opens standard delimiters only
            if len(parts) >= 2 and parts[0] and parts[1] and parts[0] != parts[1]:
                parts[0], parts[1] = parts[1], parts[0]
                f[5] = "^".join(parts)
                view.set_fields(i, f)
                changed = True
        return changed
