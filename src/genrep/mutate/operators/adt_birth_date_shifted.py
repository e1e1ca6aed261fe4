"""A patient's birth date one day off at registration (ADT)."""

from __future__ import annotations

from datetime import datetime, timedelta

from genrep.mutate.hl7view import HL7View
from genrep.mutate.operators.base import SegmentOperator


class AdtBirthDateShifted(SegmentOperator):
    name = "adt-birth-date-shifted"
    changes = ("PID-7 (date of birth) of a registration that carries one is moved one day later "
               "(a time-zone conversion of a date): 19121212 -> 19121213")
    targets = ("ADT",)
    integration = "registration"

    def edit(self, view: HL7View, rng) -> bool:
        changed = False
        for i in view.find("PID"):
            f = view.fields(i)
            if len(f) > 7 and len(f[7]) >= 8 and f[7][:8].isdigit():
                try:
                    day = datetime.strptime(f[7][:8], "%Y%m%d") + timedelta(days=1)
                except ValueError:
                    continue
                f[7] = day.strftime("%Y%m%d") + f[7][8:]
                view.set_fields(i, f)
                changed = True
        return changed
