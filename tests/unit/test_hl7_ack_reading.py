"""Reading answers on the sending side (``hl7.ack``): what a message asks for (``ack_request``: MSH-10,
MSH-15, MSH-16), what an answer says (``read_ack_header``: MSH-9, MSA-1, MSA-2) without a full parse,
and ``parse_ack`` tolerant of the answer's character set (an AE is an AE, whatever its bytes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.errors import HL7Error
from genrep.hl7 import Patient, Report, build_ack, build_oru, decode, encode, parse, parse_ack
from genrep.hl7.ack import AckRequest, ack_request, read_ack_header
from genrep.hl7.charsets import TABLE_0211

PATIENT = Patient("191212121212", "Testsson", "Tolvan", "19121212", "M")


def oru(control_id: str, charset: str = "UNICODE UTF-8") -> bytes:
    return encode(build_oru(PATIENT, Report("A1", "Ingen blödning."), control_id=control_id, charset=charset))


@settings(max_examples=300, deadline=None, database=None)
@given(control_id=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
       .filter(lambda s: s.strip() == s),
       charset=st.sampled_from(["UNICODE UTF-8", "8859/1"]),
       code=st.sampled_from(["AA", "AE", "AR", "CA", "CE", "CR"]))
def test_property_the_answer_built_for_a_message_matches_it(control_id, charset, code):
    """Whatever MSH-10 holds (delimiters escaped, non-ASCII letters), the ACK genrep's receiver
    builds quotes it so that ``read_ack_header`` reads the very control id ``ack_request`` read."""
    try:
        payload = oru(control_id, charset)
    except HL7Error:
        return  # not encodable in this charset
    request = ack_request(payload)
    assert request is not None
    message = parse(decode(payload))
    assert request.control_id == message.unescape(message.control_id).encode(message.codec).decode("latin-1")
    answer = build_ack(message, code).encode(message.codec)
    header = read_ack_header(answer)
    assert header == (("ACK", code, request.control_id))
    parsed = parse_ack(answer)
    assert parsed.code == code
    if not parsed.charset_problem:  # (an id like "Â¡" in 8859/1 reads as UTF-8: the ACK's text is read
        assert parsed.control_id == message.unescape(message.control_id)  # tolerantly; matching is on bytes)


def test_msh_15_and_16_read_from_the_raw_message():
    base = "MSH|^~\\&|RIS|S|EHR|K|20250101||ORU^R01|C9|P|2.5"
    assert ack_request(f"{base}\rPID|1\r".encode()) == AckRequest("C9", "", "")
    req = ack_request(f"{base}|||al|AL\rPID|1\r".encode())
    assert req == AckRequest("C9", "AL", "AL") and req.enhanced and req.waits_for_application_ack
    assert not ack_request(f"{base}|||AL|ER\r".encode()).waits_for_application_ack
    assert ack_request(f"{base}|||NE|NE\r".encode()).silent_on_success
    assert ack_request(f"{base}|||ER|NE\r".encode()).silent_on_success
    assert not ack_request(f"{base}|||NE|AL\r".encode()).silent_on_success


@pytest.mark.parametrize("raw", [b"", b"not hl7", b"MSH|", b"MSH|^~\\&|A|B|C|D|2025||ADT^A01\r",
                                 b"MSH|^~\\&|A|B|C|D|2025||ADT^A01||P|2.5\r"])
def test_no_request_without_an_msh_10(raw):
    assert ack_request(raw) is None


def test_answer_header_tolerates_crlf_bom_and_other_delimiters():
    assert read_ack_header(b"\xef\xbb\xbfMSH|^~\\&|E|K|R|S|2025||ACK|A1|P|2.5\r\nMSA|AE|C1|x\r\n") == ("ACK", "AE", "C1")
    assert read_ack_header(b"MSH#$%@!#E#K#R#S#2025##ACK$R01#A1#P#2.5\rMSA#CA#C@F@1\r") == ("ACK", "CA", "C#1")
    assert read_ack_header(b"MSH|^~\\&|E|K|R|S|2025||ACK|A1|P|2.5\rERR|x\r") is None
    assert read_ack_header(b"garbage") is None


_ACK = "MSH|^~\\&|EHR|KS|RIS|SECTRA|20250101||ACK^R01^ACK|A1|P|2.5{cs}\rMSA|AE|C1|{text}\rERR|||207^Internt fel^HL70357|E\r"


@pytest.mark.parametrize("cs,codec,text", [
    ("", "utf-8", "fel i rad 3: blödning åäö"),            # no MSH-18, UTF-8 bytes (common)
    ("", "latin-1", "fel i rad 3: blödning åäö"),          # no MSH-18, 8859/1 bytes
    ("ASCII", "ascii", "fel i rad 3"),
    ("UNICODE", "utf-8", "fel åäö"),
    ("8859/1", "utf-8", "fel åäö"),                          # the label is wrong
    ("8859/2", "iso8859-2", "błąd Łódź"),
    ("KS X 1001", "euc_kr", "오류"),
    ("CP1252", "cp1252", "fel ’åäö’"),                       # not in table 0211
    ("CNS 11643-1992", "utf-8", "fel"),                      # in the table, no Python codec
])
def test_an_ae_is_an_ae_whatever_its_charset(cs, codec, text):
    raw = _ACK.format(cs=f"||||||{cs}" if cs else "", text=text).encode(codec)
    ack = parse_ack(raw)
    assert (ack.code, ack.control_id, ack.text) == ("AE", "C1", text)
    assert ack.error == "207 Internt fel"
    strict = True
    try:
        decode(raw)
    except HL7Error as exc:
        strict = False
        assert ack.charset_problem == str(exc)
    if strict:
        assert ack.charset_problem == ""


def test_a_utf16_answer_is_read_and_matched():
    raw = _ACK.format(cs="||||||UNICODE UTF-16", text="fel åäö").encode("utf-16")
    assert parse_ack(raw).text == "fel åäö"
    assert read_ack_header(raw) == ("ACK", "AE", "C1")


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=40), cs=st.sampled_from(sorted(TABLE_0211) + ["CP1252", "x"]),
       codec=st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16"]))
def test_property_any_ae_text_in_any_bytes_reads_as_an_ae(text, cs, codec):
    """Whatever the text, the label and the bytes: the code and control id are read, or a clear
    HL7Error (the text broke the segment structure) is raised, never another exception."""
    raw_text = _ACK.format(cs=f"||||||{cs}" if cs else "", text=text.replace("\r", " ").replace("|", "/"))
    try:
        raw = raw_text.encode(codec)
    except UnicodeEncodeError:
        return
    try:
        ack = parse_ack(raw)
    except HL7Error:
        return
    assert (ack.code, ack.control_id) == ("AE", "C1")
