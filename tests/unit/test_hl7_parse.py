"""Receiving side: charset decoding, segment splitting, refusals, accessors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrep.errors import HL7Error
from genrep.hl7 import (CharsetMismatch, Patient, Report, accession_from, build_oru, decode,
                        detect_charset, encode, parse, patient_from, report_text)

PATIENT = Patient("199001012384", "Svensson", "Åsa", "19900101", "F")
MSH = "MSH|^~\\&|RIS|X|EHR|Y|20240101||ORU^R01^ORU_R01|C1|P|2.5||||||{cs}"


def oru(text: str, **kw) -> str:
    return build_oru(PATIENT, Report("ACC1", text), control_id="C1", **kw)


# ------------------------------------------------------------------ charsets

def test_detect_charset():
    assert detect_charset(encode(oru("x"))) == "UNICODE UTF-8"
    assert detect_charset(encode(oru("x", charset="8859/1"))) == "8859/1"
    assert detect_charset(b"MSH|^~\\&|A|B\rPID|1") == ""
    assert detect_charset(b"not hl7") == ""


def test_utf8_declared_as_8859_1_is_refused():
    data = oru("Åsa på röntgen").replace("UNICODE UTF-8", "8859/1").encode("utf-8")
    with pytest.raises(CharsetMismatch, match="declared 8859/1 but the content is UTF-8"):
        decode(data)


def test_utf8_declared_as_8859_15_is_refused():
    data = oru("å").replace("UNICODE UTF-8", "8859/15").encode("utf-8")
    with pytest.raises(CharsetMismatch):
        decode(data)


def test_non_ascii_without_msh18_is_refused():
    data = (MSH.format(cs="").rstrip("|") + "\rOBX|1|TX|X||å||||||F\r").encode("utf-8")
    with pytest.raises(CharsetMismatch, match="ASCII"):
        decode(data)


def test_latin1_declared_as_utf8_is_refused():
    data = oru("å").encode("latin-1")
    with pytest.raises(CharsetMismatch, match="not valid utf-8"):
        decode(data)


def test_unsupported_charset():
    # 8859/2 is in HL7 table 0211 and read now (tests/unit/test_hl7_charsets.py); a code page label is not
    data = (MSH.format(cs="CP1252") + "\r").encode("ascii")
    with pytest.raises(HL7Error, match="unsupported character set in MSH-18: 'CP1252' is not in HL7 table 0211"):
        decode(data)


def test_hex_escape_decoded_with_message_charset():
    utf8 = parse(MSH.format(cs="UNICODE UTF-8") + "\rOBX|1|TX|X|1|p\\XC3A5\\ rad\\X0D0A\\2||||||F\r")
    assert report_text(utf8) == "på rad\r\n2"
    latin = parse(MSH.format(cs="8859/1") + "\rOBX|1|TX|X|1|p\\XE5\\||||||F\r")
    assert report_text(latin) == "på"


def test_encode_names_unencodable_character():
    with pytest.raises(HL7Error, match=r"'€'.*8859/1"):
        encode(oru("pris 5 €", charset="8859/1"))


def test_utf8_bom_is_tolerated():
    data = b"\xef\xbb\xbf" + encode(oru("å"))
    assert report_text(parse(decode(data))) == "å"


# ------------------------------------------------------------------ structure

def test_raw_cr_inside_text_is_refused():
    message = oru("Ingen fraktur\ringen fraktur i höger handled", escape_cr=False)
    with pytest.raises(HL7Error, match=r"segment 7 does not start with a segment id: 'ingen fraktur"):
        parse(message)


@pytest.mark.parametrize("convention", ["repetitions", "ft-br"])
def test_raw_cr_refused_in_every_convention(convention):
    with pytest.raises(HL7Error, match="does not start with a segment id"):
        parse(decode(encode(oru("a\rb", escape_cr=False, convention=convention))))


def test_escape_cr_false_still_splits_on_lf():
    message = parse(oru("a\nb", escape_cr=False))
    assert report_text(message) == "a\nb"


@pytest.mark.parametrize("text, reason", [
    ("", "empty message"),
    ("   ", "empty message"),
    ("PID|1||x\r", "does not start with MSH"),
    ("MSH|^~\\&|A|B|C|D|2024||ORU^R01|\r", "MSH-10"),
    ("MSH|^~\\&|A|B|C|D|2024|||C1\r", "MSH-9"),
    ("MSH|^~\r", "too short"),
    ("MSH|^~|A|B|C|D|2024||ORU^R01|C1\r", "encoding characters"),
    ("MSHA^~\\&|A\r", "field separator"),
    (MSH.format(cs="") + "\rpid|1\r", "segment 2"),
    (MSH.format(cs="") + "\rPIDX|1\r", "segment 2"),
    (MSH.format(cs="") + "\r" + MSH.format(cs="") + "\r", "second MSH"),
])
def test_parse_refusals(text, reason):
    with pytest.raises(HL7Error, match=reason):
        parse(text)


def test_terminators():
    body = [MSH.format(cs="UNICODE UTF-8"), "PID|1||123", "OBX|1|TX|X|1|rad||||||F"]
    for terminator in ("\r", "\r\n", "\n"):
        message = parse(terminator.join(body) + terminator)
        assert [s.id for s in message.segments] == ["MSH", "PID", "OBX"]
        assert report_text(message) == "rad"
    # LF before CR (LF CR) and a final bare LF are terminators too
    message = parse("\n\r".join(body) + "\n")
    assert [s.id for s in message.segments] == ["MSH", "PID", "OBX"]


def test_lf_inside_a_field_is_text_when_segments_end_with_cr():
    message = parse(MSH.format(cs="") + "\rOBX|1|TX|X|1|rad 1\nrad 2||||||F\r")
    assert report_text(message) == "rad 1\nrad 2"
    assert message.field("OBX-11") == "F"


def test_accessors():
    message = parse(oru("x"))
    assert message.field("MSH-1") == "|"
    assert message.field("MSH-2") == "^~\\&"
    assert message.field("MSH-9.1") == "ORU"
    assert message.field("MSH-9.2") == "R01"
    assert message.field("PID-3") == "199001012384^^^SE&1.2.752.129.2.1.3.1&ISO^PN"
    assert message.field("PID-3.1") == "199001012384"
    assert message.field("PID-3.4.1") == "SE"
    assert message.field("PID-99") == ""
    assert message.field("ZZZ-1") == ""
    assert len(message.all("OBX")) == 1
    pid = message.all("PID")[0]
    assert pid.component(5, 2) == "Åsa"
    assert pid.repetitions(3) == ["199001012384^^^SE&1.2.752.129.2.1.3.1&ISO^PN"]
    assert pid.repetitions(4) == []
    with pytest.raises(HL7Error, match="invalid field path"):
        message.field("PID3")


def test_reprs_do_not_leak_patient_data():
    message = parse(oru("x"))
    assert "199001012384" not in repr(message)
    assert "Svensson" not in repr(message.all("PID")[0])
    assert repr(PATIENT) == "Patient(<masked>)"
    assert "199001012384" not in str(PATIENT) and "Åsa" not in repr(PATIENT)


def test_report_text_mixed_obx_types_in_order():
    text = "\r".join([
        MSH.format(cs="UNICODE UTF-8"),
        "OBR|1||A1",
        "OBX|1|TX|X|1|första~andra||||||F",
        "OBX|2|NM|VIKT||72|kg|||||F",
        "OBX|3|FT|X|2|tredje\\.br\\fjärde||||||F",
        "OBX|4|CE|X|3|Z01^Inga fynd^ICD10||||||F",
        "OBX|5|ST|X|4|femte||||||F",
        "OBX|6|TX|X|5|||||||F",
    ]) + "\r"
    assert report_text(parse(text)) == "första\nandra\ntredje\nfjärde\nInga fynd\nfemte\n"


def test_patient_and_accession_are_unescaped():
    patient = Patient("1990\\01", "O|Brien", "A^B", "19900101", "M")
    message = parse(build_oru(patient, Report("X&1", "t"), control_id="C"))
    assert patient_from(message)["identifier"] == "1990\\01"
    assert patient_from(message)["family"] == "O|Brien"
    assert patient_from(message)["given"] == "A^B"
    assert accession_from(message) == "X&1"


def test_nonstandard_delimiters():
    text = "MSH!$%#@!A!B!C!D!2024!!ORU$R01!C9!P!2.5\rOBX!1!TX!X!1!a#F#b%c!!!!!!F\r"
    message = parse(text)
    assert message.message_type == "ORU^R01"
    assert message.control_id == "C9"
    assert report_text(message) == "a!b\nc"


def test_large_message_parses_fast():
    import time
    data = encode(oru("\n".join(f"rad {i} åäö" for i in range(1000))))
    start = time.process_time()  # the parser's own CPU time: other processes on a busy machine do not count
    for _ in range(10):
        report_text(parse(decode(data)))
    assert (time.process_time() - start) / 10 < 0.05


# ------------------------------------------------------------------ fuzz

def _receive(data: bytes) -> None:
    try:
        message = parse(decode(data))
        report_text(message)
        accession_from(message, "both")
        message.field("PID-3.1")
        if message.first("PID"):
            patient_from(message)
    except HL7Error:
        pass


_MSH_PREFIX = st.sampled_from([b"", b"MSH", b"MSH|^~\\&|", MSH.format(cs="UNICODE UTF-8").encode(),
                               MSH.format(cs="8859/1").encode() + b"\r"])
_SEGMENT_BYTES = st.lists(st.sampled_from([b"\r", b"\n", b"|", b"^", b"~", b"\\", b"&", b"OBX",
                                           b"PID", b"OBR", b"TX", b"FT", b"\\.br\\", b"\\X",
                                           b"\xc3\xa5", b"\xe5", b"MSH|", b"A"]), max_size=30)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_MSH_PREFIX, body=st.binary(max_size=200))
def test_receiving_arbitrary_bytes_raises_only_hl7error(prefix, body):
    _receive(prefix + body)


@settings(max_examples=300, deadline=None, database=None)
@given(prefix=_MSH_PREFIX, parts=_SEGMENT_BYTES)
def test_receiving_hl7ish_bytes_raises_only_hl7error(prefix, parts):
    _receive(prefix + b"".join(parts))


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=300))
def test_parse_arbitrary_text_raises_only_hl7error(text):
    for candidate in (text, "MSH" + text, MSH.format(cs="") + "\r" + text):
        try:
            message = parse(candidate)
            report_text(message)
        except HL7Error:
            pass
