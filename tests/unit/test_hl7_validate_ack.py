"""hl7apy structure validation of built messages, and ACK build/parse."""

from __future__ import annotations

import pytest

from genrep.errors import HL7Error
from genrep.hl7 import (CONVENTIONS, Ack, Patient, Report, build_ack, build_adt, build_oru,
                        decode, encode, parse, parse_ack, validate_structure)

PATIENT = Patient("199001012384", "Svensson", "Åsa", "19900101", "F")
TEXT = "Fynd: a|b ^ ~ & \\ åäö\n\n  indrag\u00a0\tslut\nrad \\.br\\ bokstavligt"


@pytest.mark.parametrize("event", ["A01", "A04", "A08"])
def test_adt_is_valid(event):
    validate_structure(build_adt(event, PATIENT, control_id="A1"))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_oru_is_valid(convention):
    report = Report("ACC1", TEXT, status="C", parent_accession="ACC0",
                    observation_time="202401021530")
    validate_structure(build_oru(PATIENT, report, control_id="O1", convention=convention,
                                 accession_field="both", charset="8859/1"))


def test_oru_with_hex_escapes_is_valid():
    validate_structure(build_oru(PATIENT, Report("A", "x"), control_id="O1").replace(
        "|x|", "|x\\X0D0A\\y\\XC3A5\\|"))


def test_broken_messages_are_rejected():
    oru = build_oru(PATIENT, Report("ACC1", "x"), control_id="O1")
    without_obr = "\r".join(s for s in oru.split("\r") if not s.startswith("OBR"))
    with pytest.raises(HL7Error, match="OBR"):
        validate_structure(without_obr)
    without_status = oru.replace("|x||||||F", "|x||||||")
    with pytest.raises(HL7Error, match="OBX_11"):
        validate_structure(without_status)
    # hl7apy alone would accept the text after a raw CR as a segment; we do not
    with pytest.raises(HL7Error, match="segment id"):
        validate_structure(build_oru(PATIENT, Report("A", "a\rb"), control_id="O",
                                     escape_cr=False))


def test_ack_for_oru():
    original = parse(decode(encode(build_oru(PATIENT, Report("A", "x"), control_id="O-17",
                                             charset="8859/1"))))
    ack_text = build_ack(original, "AA", control_id="ACK1")
    validate_structure(ack_text)
    ack = parse(ack_text)
    assert ack.field("MSH-9") == "ACK^R01^ACK"
    assert (ack.field("MSH-3"), ack.field("MSH-4"), ack.field("MSH-5"), ack.field("MSH-6")) \
        == ("EHR", "REGION", "GENREP", "RIS")
    assert ack.version == "2.5" and ack.charset == "8859/1" and ack.control_id == "ACK1"
    assert ack.all("ERR") == []
    parsed = parse_ack(encode(ack_text))
    assert parsed == Ack("AA", "O-17", "", None)
    assert parsed.accepted


def test_error_ack():
    original = parse(build_oru(PATIENT, Report("A", "x"), control_id="O-18"))
    ack_text = build_ack(original, "AE", "fel i OBX-5 | rad 3", error_code="102")
    validate_structure(ack_text)
    ack = parse_ack(ack_text)
    assert ack.code == "AE" and not ack.accepted
    assert ack.control_id == "O-18"
    assert ack.text == "fel i OBX-5 | rad 3"
    assert ack.error == "102 Data type error"


def test_ack_for_unparseable_input():
    ack = parse_ack(build_ack(None, "AR", "could not parse"))
    assert ack.code == "AR" and ack.control_id == "" and ack.error


def test_ack_text_unencodable_in_charset_is_replaced():
    original = parse(build_adt("A04", Patient("1", "Berg", "Per", "19900101", "M"),
                               control_id="C", charset=""))
    ack_text = build_ack(original, "AE", "åtgärd")
    encode(ack_text)
    assert parse_ack(ack_text).text == "?tg?rd"


def test_enhanced_mode_codes():
    original = parse(build_oru(PATIENT, Report("A", "x"), control_id="O"))
    assert parse_ack(build_ack(original, "CA")).accepted
    assert not parse_ack(build_ack(original, "CE")).accepted


def test_ack_refusals():
    original = parse(build_oru(PATIENT, Report("A", "x"), control_id="O"))
    with pytest.raises(HL7Error, match="acknowledgement code"):
        build_ack(original, "OK")
    with pytest.raises(HL7Error, match="expected an ACK"):
        parse_ack(build_oru(PATIENT, Report("A", "x"), control_id="O"))
    with pytest.raises(HL7Error, match="no MSA"):
        parse_ack("MSH|^~\\&|A|B|C|D|2024||ACK^R01^ACK|C1|P|2.5\r")
    with pytest.raises(HL7Error):
        parse_ack(b"")
