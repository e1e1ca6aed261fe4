"""Radiology HL7 v2.5: build ADT/ORU messages (sending side) and parse them (receiving side).

* ``escape``: our own escape/unescape (hl7apy re-escapes ``\\.br\\`` and ``\\Xhh\\``);
* ``build``: string-assembled messages, ``encode`` per MSH-18, hl7apy ``validate_structure``;
* ``parse``: fast receiving-side parsing, charset checks, report text whatever the convention;
* ``ack``: ACK build/parse.

``parse`` and ``ack`` do not import hl7apy (only ``validate_structure`` does, lazily).
"""

from genrep.hl7.ack import ACK_CODES, ERROR_CODES, build_ack, parse_ack
from genrep.hl7.build import (ACCESSION_FIELDS, ACK_MODES, CHARSETS, CONVENTIONS, HL7_VERSION, build_adt, build_orm,
                    build_oru, encode, split_lines, validate_structure)
from genrep.hl7.escape import FT_LINE_BREAK, escape, unescape
from genrep.hl7.model import PERSONNUMMER_OID, Ack, Order, Patient, Report
from genrep.hl7.parse import (CharsetMismatch, Delimiters, Message, Segment, accession_from, accession_reader, decode,
                    detect_charset, parent_accession_from, parse, parse_header, patient_from, patient_identifier_from,
                    report_text)

__all__ = [
    "ACCESSION_FIELDS", "ACK_CODES", "ACK_MODES", "CHARSETS", "CONVENTIONS", "ERROR_CODES", "FT_LINE_BREAK",
    "HL7_VERSION", "PERSONNUMMER_OID", "Ack", "CharsetMismatch", "Delimiters", "Message",
    "Order", "Patient", "Report", "Segment", "accession_from", "accession_reader", "build_ack", "build_adt", "build_orm", "build_oru",
    "decode", "detect_charset", "encode", "escape", "parent_accession_from", "parse",
    "parse_ack", "parse_header", "patient_from", "patient_identifier_from", "report_text", "split_lines", "unescape", "validate_structure",
]
