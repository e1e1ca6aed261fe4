"""Plain data carried into and out of the HL7 layer.

``Patient.__repr__`` is masked on purpose: reprs end up in pytest output, logs and Allure
reports, and a personnummer or a name must not (even test identities are kept out, so the habit
holds when a real one slips in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Patient", "Report", "Order", "Ack", "PERSONNUMMER_OID"]

#: OID of the Swedish personnummer identifier system.
PERSONNUMMER_OID = "1.2.752.129.2.1.3.1"


@dataclass
class Patient:
    """A (test) patient.  ``birth_date`` is YYYYMMDD, ``sex`` F/M/U."""

    identifier: str
    family: str
    given: str
    birth_date: str
    sex: str
    identifier_system: str = PERSONNUMMER_OID
    street: str = ""  # PID-11 (XAD): street, postal code, city
    postal_code: str = ""
    city: str = ""

    def __repr__(self) -> str:  # privacy: never show identifier or names
        return "Patient(<masked>)"

    __str__ = __repr__


@dataclass
class Report:
    """A radiology report as the RIS sends it.

    ``status`` goes to OBR-25 and OBX-11 (P, F, C, ...); ``parent_accession`` (OBR-29) marks an
    addendum to an earlier report.  ``observation_time`` is an HL7 DTM (YYYYMMDDHHMM[SS]).
    """

    accession: str
    text: str
    status: str = "F"
    code: str = "RAD"
    title: str = "Röntgen"
    observation_time: str | None = None
    parent_accession: str | None = None
    placer_order: str | None = None  # ORC-2/OBR-2: the referral this report answers


@dataclass
class Order:
    """A radiology referral (ORM^O01 new order): placer order number, examination, clinical question."""

    placer: str
    code: str = "RAD"
    title: str = "Röntgen"
    reason: str = ""


@dataclass
class Ack:
    """A parsed acknowledgement: MSA-1 ``code``, MSA-2 ``control_id`` (the acknowledged
    message's MSH-10), MSA-3 ``text`` (unescaped) and the ERR description, if any."""

    code: str
    control_id: str
    text: str
    error: str | None = field(default=None)
    #: why the ACK's bytes were read tolerantly (they contradict its MSH-18, or MSH-18 is not one
    #: Python reads); "" when they were read as declared (``hl7.parse_ack``)
    charset_problem: str = ""

    @property
    def accepted(self) -> bool:
        """True for AA/CA.  Note that AA does not prove the message was stored correctly."""
        return self.code in ("AA", "CA")
