"""Sending side: build radiology HL7 v2.5 ADT^A01/A04/A08 and ORU^R01 messages.

Every segment is assembled here from field tables and our own ``escape``, and hl7apy is used
only to validate the result (``validate_structure``).  Why not build with hl7apy:

* exact escapes: hl7apy re-escapes ``\\.br\\`` and ``\\Xhh\\`` to ``\\E\\.br\\E\\``, leaves a
  raw CR inside a value (which ends the segment on the wire) and reads ``^`` in an assigned
  string as a component separator, so the wire text would not be the text we mean to send;
* speed: hl7apy takes ~6 ms to build even a 3-segment ADT and ~70 ms to parse a 50-OBX ORU,
  while the same builders feed load tests; string assembly builds a 1,000-line ORU in ~1 ms.

Structure is still checked against hl7apy's v2.5 definitions: the unit tests run
``validate_structure`` (STRICT) on the output of every builder and convention.

Report text conventions (``CONVENTIONS``), all found in the wild and all decoded by
``parse.report_text``:

* ``obx-per-line``: one OBX (TX) per line, empty lines kept as OBX with empty OBX-5;
* ``repetitions``: one OBX (TX) whose OBX-5 repeats (``~``) once per line;
* ``ft-br``: one OBX (FT) with lines joined by ``\\.br\\``.

Lines are split on CRLF, CR and LF.  Leading and trailing spaces are sent as they are (TX says
a receiver "should" drop trailing spaces; whether it does is for the comparison to judge).
``escape_cr=False`` reproduces a faulty sender that leaves CR raw inside OBX-5.
"""

from __future__ import annotations

import re
from datetime import datetime

from genrep.errors import HL7Error
from genrep.hl7.charsets import CHARSETS, codec_for
from genrep.hl7.escape import FT_LINE_BREAK, escape
from genrep.hl7.model import Order, Patient, Report
from genrep.hl7.parse import parse

__all__ = ["ACK_MODES", "CHARSETS", "CONVENTIONS", "ACCESSION_FIELDS", "build_adt", "build_oru", "encode",
           "validate_structure", "split_lines", "HL7_VERSION"]

CONVENTIONS = ("obx-per-line", "repetitions", "ft-br")
ACCESSION_FIELDS = ("OBR-3", "OBR-18", "both")
ADT_EVENTS = ("A01", "A02", "A03", "A04", "A08")
_ADT_STRUCTURE = {"A01": "ADT_A01", "A02": "ADT_A02", "A03": "ADT_A03", "A04": "ADT_A01", "A08": "ADT_A01"}
HL7_VERSION = "2.5"
#: A profile endpoint's ``ack_mode`` -> (MSH-15, MSH-16) of the messages genrep builds for it:
#: original mode leaves both empty (one ACK per message); enhanced asks for a commit ACK (CA/CE/CR)
#: always and then the application ACK (AA/AE/AR) always (``hl7.ack.ack_request`` reads them back).
ACK_MODES: dict[str, tuple[str, str]] = {"original": ("", ""), "enhanced": ("AL", "AL")}

_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
# what ``escape`` changes inside one line (CR and LF are line breaks here, split off first);
# tested with ``in`` (memchr) rather than one regex: a regex character-set scan of 10 KB is ~30 us
_LINE_SPECIAL = "\\|^&~\x0b\x1c"


def split_lines(text: str) -> list[str]:
    """Split report text into lines on CRLF, CR and LF (the normalisation the round trip keeps).

    Same result as ``_LINE_SPLIT.split(text)``; string replaces are C-level and a regex split of a
    10 KB report cost 60 us, a third of building a load-test ORU."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _now() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S")


def _check_charset(charset: str) -> None:
    if charset not in CHARSETS:
        codec_for(charset)  # raises HL7Error naming the supported values


def _ack_types(ack_mode: str) -> tuple[str, str]:
    try:
        return ACK_MODES[ack_mode]
    except KeyError:
        raise HL7Error(f"unknown ack_mode {ack_mode!r} (supported: {', '.join(ACK_MODES)})") from None


def _segment(seg_id: str, fields: dict[int, str]) -> str:
    """Join already-escaped field values into one segment (field n at position n)."""
    last = max(fields) if fields else 0
    values = [fields.get(i, "") for i in range(1, last + 1)]
    return "|".join([seg_id, *values])


def _msh(*, message_type: str, control_id: str, charset: str, sending_app: str,
         sending_facility: str, receiving_app: str, receiving_facility: str,
         timestamp: str, processing_id: str = "P", version: str = HL7_VERSION,
         ack_mode: str = "original") -> str:
    if not control_id:
        raise HL7Error("control_id (MSH-10) must not be empty")
    fields = {
        3: escape(sending_app), 4: escape(sending_facility),
        5: escape(receiving_app), 6: escape(receiving_facility),
        7: escape(timestamp), 9: message_type, 10: escape(control_id),
        11: escape(processing_id), 12: escape(version),
    }
    accept_ack, application_ack = _ack_types(ack_mode)
    if accept_ack:
        fields[15], fields[16] = accept_ack, application_ack
    if charset:
        fields[18] = escape(charset)
    last = max(fields)
    # MSH-1 is the field separator itself, MSH-2 the encoding characters
    return "MSH|^~\\&|" + "|".join(fields.get(i, "") for i in range(3, last + 1))


def _pid(patient: Patient) -> str:
    cx = (f"{escape(patient.identifier)}^^^SE&{escape(patient.identifier_system)}&ISO^PN")
    return _segment("PID", {
        1: "1",
        3: cx,
        5: f"{escape(patient.family)}^{escape(patient.given)}",
        7: escape(patient.birth_date),
        8: escape(patient.sex),
        **({11: f"{escape(patient.street)}^^{escape(patient.city)}^^{escape(patient.postal_code)}^SE"}
           if patient.street or patient.city else {}),
    })


def _pv1(patient_class: str = "E", location: str = "", prior_location: str = "") -> str:
    """PV1-2 patient class (E emergency, I inpatient, O outpatient), PV1-3 location, PV1-6 prior."""
    fields = {1: "1", 2: escape(patient_class)}
    if location:
        fields[3] = escape(location)
    if prior_location:
        fields[6] = escape(prior_location)
    return _segment("PV1", fields)


def build_adt(event: str, patient: Patient, *, control_id: str, charset: str = "UNICODE UTF-8",
              sending_app: str = "GENREP", sending_facility: str = "RIS",
              receiving_app: str = "EHR", receiving_facility: str = "REGION",
              timestamp: str | None = None, segment_terminator: str = "\r",
              patient_class: str = "E", location: str = "", prior_location: str = "",
              ack_mode: str = "original") -> str:
    """ADT^A01/A02/A03/A04/A08: MSH, EVN, PID, PV1 (class, location; A02 also the prior location).
    ``ack_mode`` (``ACK_MODES``, as every builder): ``enhanced`` values MSH-15 and MSH-16 ``AL``.

    PID-7/PID-8 are left empty when the patient has no birth date/sex: the EHR must then derive
    them from the personnummer (as a Swedish EHR does from the population register's number)."""
    if event not in ADT_EVENTS:
        raise HL7Error(f"unsupported ADT event {event!r} (supported: {', '.join(ADT_EVENTS)})")
    _check_charset(charset)
    ts = timestamp or _now()
    segments = [
        _msh(message_type=f"ADT^{event}^{_ADT_STRUCTURE[event]}", control_id=control_id, charset=charset,
             sending_app=sending_app, sending_facility=sending_facility,
             receiving_app=receiving_app, receiving_facility=receiving_facility, timestamp=ts,
             ack_mode=ack_mode),
        _segment("EVN", {1: event, 2: escape(ts)}),
        _pid(patient),
        _pv1(patient_class, location, prior_location),
    ]
    return segment_terminator.join(segments) + segment_terminator


def build_orm(patient: Patient, order: Order, *, control_id: str, charset: str = "UNICODE UTF-8",
              sending_app: str = "GENREP", sending_facility: str = "ORDER",
              receiving_app: str = "EHR", receiving_facility: str = "REGION",
              timestamp: str | None = None, segment_terminator: str = "\r", ack_mode: str = "original") -> str:
    """ORM^O01 new order (a radiology referral): MSH, PID, PV1, ORC (NW, placer), OBR (placer,
    examination, clinical question in OBR-13)."""
    _check_charset(charset)
    ts = timestamp or _now()
    placer = escape(order.placer)
    segments = [
        _msh(message_type="ORM^O01^ORM_O01", control_id=control_id, charset=charset,
             sending_app=sending_app, sending_facility=sending_facility,
             receiving_app=receiving_app, receiving_facility=receiving_facility, timestamp=ts,
             ack_mode=ack_mode),
        _pid(patient),
        _pv1(),
        _segment("ORC", {1: "NW", 2: placer, 5: "SC", 9: escape(ts)}),
        _segment("OBR", {1: "1", 2: placer, 4: f"{escape(order.code)}^{escape(order.title)}",
                         13: escape(order.reason), 24: "RAD"}),
    ]
    return segment_terminator.join(segments) + segment_terminator


def _text_values(text: str, escape_cr: bool) -> list[str]:
    """Escaped OBX-5 values, one per line."""
    if escape_cr:
        lines = split_lines(text)
        if not any(c in text for c in _LINE_SPECIAL):  # the usual report: nothing to escape in a line
            return lines
        return [escape(line) for line in lines]
    # Faulty sender: split on LF only and leave every CR raw inside the value.
    return ["\r".join(escape(piece) for piece in line.split("\r")) for line in text.split("\n")]


def build_oru(patient: Patient, report: Report, *, control_id: str,
              convention: str = "obx-per-line", charset: str = "UNICODE UTF-8",
              accession_field: str = "OBR-3", escape_cr: bool = True,
              segment_terminator: str = "\r", timestamp: str | None = None,
              sending_app: str = "GENREP", sending_facility: str = "RIS",
              receiving_app: str = "EHR", receiving_facility: str = "REGION",
              ack_mode: str = "original") -> str:
    """ORU^R01 (structure ORU_R01): MSH, PID, PV1, ORC, OBR, OBX... with the report text under
    ``convention`` (see the module docstring).

    Accession in OBR-3 (and ORC-3), OBR-18, or both (``accession_field``); OBR-25 and OBX-11 =
    ``report.status``; OBR-29 = ``report.parent_accession`` (addendum); OBX-3 ``code^title``;
    OBX-4 sub-id 1..n.
    """
    if convention not in CONVENTIONS:
        raise HL7Error(f"unknown report text convention {convention!r} "
                       f"(supported: {', '.join(CONVENTIONS)})")
    if accession_field not in ACCESSION_FIELDS:
        raise HL7Error(f"unknown accession field {accession_field!r} "
                       f"(supported: {', '.join(ACCESSION_FIELDS)})")
    _check_charset(charset)
    ts = timestamp or _now()
    accession = escape(report.accession)
    status = escape(report.status)
    obs_time = escape(report.observation_time or ts)
    service = f"{escape(report.code)}^{escape(report.title)}"
    in_obr3 = accession_field in ("OBR-3", "both")
    in_obr18 = accession_field in ("OBR-18", "both")

    orc = {1: "RE"}
    obr = {1: "1", 4: service, 7: obs_time, 22: escape(ts), 24: "RAD", 25: status}
    if in_obr3:
        orc[3] = accession
        obr[3] = accession
    if in_obr18:
        obr[18] = accession
    if report.parent_accession:
        obr[29] = escape(report.parent_accession)  # EIP.1 (placer-assigned identifier)
    if report.placer_order:
        orc[2] = escape(report.placer_order)
        obr[2] = escape(report.placer_order)

    segments = [
        _msh(message_type="ORU^R01^ORU_R01", control_id=control_id, charset=charset,
             sending_app=sending_app, sending_facility=sending_facility,
             receiving_app=receiving_app, receiving_facility=receiving_facility, timestamp=ts,
             ack_mode=ack_mode),
        _pid(patient),
        _pv1(),
        _segment("ORC", orc),
        _segment("OBR", obr),
    ]

    values = _text_values(report.text, escape_cr)
    obx_time = escape(report.observation_time) if report.observation_time else ""
    tail = f"||||||{status}" + (f"|||{obx_time}" if obx_time else "")
    # OBX-1 set id | OBX-2 type | OBX-3 id | OBX-4 sub-id | OBX-5 value | 6..10 | OBX-11 status
    if convention == "obx-per-line":
        segments.extend(f"OBX|{i}|TX|{service}|{i}|{value}{tail}"
                        for i, value in enumerate(values, start=1))
    elif convention == "repetitions":
        segments.append(f"OBX|1|TX|{service}|1|{'~'.join(values)}{tail}")
    else:  # ft-br
        segments.append(f"OBX|1|FT|{service}|1|{FT_LINE_BREAK.join(values)}{tail}")
    return segment_terminator.join(segments) + segment_terminator


def encode(message: str, code_pages=None) -> bytes:
    """Encode with the codec named by the message's own MSH-18 (ASCII when absent).

    HL7Error naming the character, its position and the charset when it cannot be encoded.
    ``code_pages`` (a profile endpoint's ``code_pages``: MSH-18 value, upper case -> Windows code
    page) encodes a value it names with that code page, MSH-18 unchanged: the peer's documented
    deviation from table 0211 (``{"8859/1": "cp1252"}`` carries "–" and "€" as 0x96 and 0x80).
    """
    first = message.split("\r", 1)[0].split("\n", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        raise HL7Error("message does not start with MSH")
    fields = first.split(first[3])
    declared = fields[17] if len(fields) > 17 else ""
    if len(fields) > 1 and len(fields[1]) > 1:
        declared = declared.split(fields[1][1])[0]
    declared = declared.strip()
    codec = codec_for(declared, code_pages)
    try:
        return message.encode(codec)
    except UnicodeEncodeError as exc:
        ch = message[exc.start]
        label = repr(declared) if declared else "ASCII (no MSH-18)"
        if code_pages and declared.upper() in code_pages:
            label += f" (written as {codec}: the endpoint's code_pages)"
        raise HL7Error(f"character {ch!r} (U+{ord(ch):04X}) at offset {exc.start} cannot be "
                       f"encoded in the message charset {label}") from None


def validate_structure(message: str) -> None:
    """Validate against hl7apy's HL7 v2.5 structures with STRICT validation.

    Our own ``parse`` runs first: hl7apy accepts a line of report text after a raw CR as if it
    were a segment, we do not.  Raises HL7Error with hl7apy's reason.  Slow (tens of ms):
    functional checks only, never the load path.
    """
    parsed_here = parse(message)  # segment ids, MSH, MSH-9/MSH-10
    from hl7apy.consts import VALIDATION_LEVEL  # imported lazily: slow, and not needed to build
    from hl7apy.parser import parse_message

    sep = parsed_here.delimiters.field
    er7 = "\r".join(
        ("MSH" + sep + sep.join(seg.fields[2:])) if seg.id == "MSH" else sep.join(seg.fields)
        for seg in parsed_here.segments)
    try:
        parsed = parse_message(er7, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        parsed.validate()
    except Exception as exc:  # hl7apy raises a zoo of exception types
        reason = str(exc)
        if len(reason) > 300:
            reason = reason[:300] + "..."
        raise HL7Error(f"HL7 structure validation failed ({type(exc).__name__}): {reason}") from exc
