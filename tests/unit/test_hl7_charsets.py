"""MSH-18 as HL7 table 0211 (``hl7.charsets``, ``hl7.parse.decode``): every value Python can read is
read, an unknown one is refused naming it, UTF-8 mislabelled as 8859 and Windows-1252 mislabelled
as 8859 are refused (never stored as mojibake), and genuine 8859/1 whose bytes happen to be valid
UTF-8 is read (it was refused as "the content is UTF-8")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.errors import HL7Error
from genrep.hl7 import CharsetMismatch, decode, parse, report_text
from genrep.hl7.charsets import CHARSETS, TABLE_0211, codec_for, reading_codec

MSH = "MSH|^~\\&|RIS|SECTRA|EHR|KS|20250101120000||ORU^R01^ORU_R01|C1|P|2.5|||||SE|{cs}"

# text each table 0211 set can carry, drawn from this pool (everything the codec encodes, no C1)
POOL = ("Ingen blödning, åäö ÅÄÖ é ü ß. Łódź Šibenik Ąą. Привет. Ελλάδα. שלום. مرحبا. "
        "日本語のテキスト ｶﾀｶﾅ. 中文报告 繁體字. 한국어 보고서.")


def sample(codec: str) -> str:
    out = []
    for ch in POOL:
        try:
            encoded = ch.encode(codec)
        except UnicodeEncodeError:
            continue
        if codec.startswith("iso8859") or codec == "latin-1":
            if any(0x80 <= b <= 0x9F for b in encoded):
                continue
        out.append(ch)
    return "".join(out)


def message(cs: str, text: str) -> str:
    return MSH.format(cs=cs) + f"\rOBX|1|TX|RAD^Report||{text}||||||F\r"


READABLE = sorted(k for k, v in TABLE_0211.items() if v and k)


@pytest.mark.parametrize("value", READABLE)
def test_every_readable_table_0211_value_is_read(value):
    codec = TABLE_0211[value]
    text = sample(codec)
    assert text.strip(), value
    data = message(value, text).encode(codec)
    if codec == "utf-16":
        data = message(value, text).encode("utf-16")              # with its byte order mark
    got = parse(decode(data))
    assert report_text(got) == text
    assert got.codec == codec


def test_names_are_case_insensitive_and_trimmed():
    assert reading_codec(" unicode utf-8 ") == "utf-8"
    assert reading_codec("8859/1") == "latin-1" and reading_codec("iso ir100") == "latin-1"


def test_utf16_and_utf32_without_a_byte_order_mark():
    for codec, cs in (("utf-16-le", "UNICODE UTF-16"), ("utf-16-be", "UNICODE UTF-16"),
                      ("utf-32-le", "UNICODE UTF-32"), ("utf-32-be", "UNICODE UTF-32")):
        assert report_text(parse(decode(message(cs, "åäö 日本").encode(codec)))) == "åäö 日本"


def test_utf16_declared_as_something_else_is_a_mismatch():
    with pytest.raises(CharsetMismatch, match="the message is UTF-16 but MSH-18 says 8859/1"):
        decode(message("8859/1", "åäö").encode("utf-16"))
    with pytest.raises(CharsetMismatch, match="declared UNICODE UTF-16 but the message is single-byte"):
        decode(message("UNICODE UTF-16", "åäö").encode("utf-8"))


def test_iso_2022_code_extension_named_in_a_later_repetition():
    data = message("ISO IR6~ISO IR87", "日本語").encode("iso2022_jp")
    assert report_text(parse(decode(data))) == "日本語"


@pytest.mark.parametrize("value,reason", [
    ("CP1252", "is not in HL7 table 0211"),
    ("WINDOWS-1252", "is not in HL7 table 0211"),
    ("UTF8", "is not in HL7 table 0211"),
    ("CNS 11643-1992", "has no decoder in Python"),
])
def test_unknown_or_unreadable_values_are_refused_naming_them(value, reason):
    with pytest.raises(HL7Error, match=f"unsupported character set in MSH-18: {value!r}.*{reason}"):
        decode(message(value, "abc").encode("ascii"))


def test_the_sending_side_still_builds_only_the_contract_charsets():
    assert set(CHARSETS) == {"UNICODE UTF-8", "8859/1", "8859/15", ""}
    with pytest.raises(HL7Error, match="unsupported character set"):
        codec_for("8859/2")


# ---------------------------------------------------------------- 8859 read correctly, mislabels refused
@pytest.mark.parametrize("text", [
    "SVAR PÅ\xa0REMISS",          # Å + no-break space: C5 A0, a valid UTF-8 sequence ("Š")
    "RÖ\xadNTGEN",                # Ö + soft hyphen: D6 AD
    "se även\xa0\xa0bilaga",      # n + 2 NBSP is ASCII + ...; "ä" + "v" is not UTF-8 anyway
    "utlåtande på\xa0\xa0",       # å + 2 NBSP at the end: E5 A0 A0, a valid 3-byte sequence
    "Ä\xa0och Ö\xa0",             # every non-ASCII byte is in such a pair: the whole text is valid UTF-8
])
def test_genuine_8859_1_whose_bytes_look_like_utf8_is_read(text):
    """The known defect: decode refused these as "the content is UTF-8"."""
    data = message("8859/1", text).encode("latin-1")
    assert report_text(parse(decode(data))) == text


_LATIN1_LETTERS = st.characters(min_codepoint=0xA0, max_codepoint=0xFF)


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E).filter(lambda c: c not in "|^~\\&"),
                              _LATIN1_LETTERS), min_size=1).filter(lambda t: not t.isascii()))
def test_property_utf8_declared_8859_1_is_always_refused(text):
    """Any text with a character of 8859/1's upper half, sent as UTF-8 under an 8859/1 label, is
    refused: its Latin-1 letters are C2/C3 sequences, the UTF-8 signature."""
    with pytest.raises(CharsetMismatch, match="the content is UTF-8"):
        decode(message("8859/1", text).encode("utf-8"))


_SWEDISH = "abcdefghijklmnopqrstuvwxyzåäöABCDEFGHIJKLMNOPQRSTUVWXYZÅÄÖéÉü .,:;-()0123456789\xa0\xad"


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(st.sampled_from(_SWEDISH), min_size=1))
def test_property_swedish_8859_1_text_is_read_exactly(text):
    """Any text of Swedish letters, digits, punctuation, no-break spaces and soft hyphens, sent as
    8859/1, reads back exactly: never refused as UTF-8, never changed."""
    assert report_text(parse(decode(message("8859/1", text).encode("latin-1")))) == text


@pytest.mark.parametrize("cs", ["8859/1", "8859/15", "8859/2"])
@pytest.mark.parametrize("text,byte", [
    ("it’s ready", 0x92), ("“citat”", 0x93), ("pris 5 €", 0x80), ("bild – text", 0x96), ("punkt…", 0x85),
])
def test_windows_1252_labelled_8859_is_refused_naming_the_c1_byte(cs, text, byte):
    data = message(cs, text + " åäö").encode("cp1252")   # with åäö: not valid UTF-8 either
    with pytest.raises(CharsetMismatch, match=rf"declared {cs} but byte 0x{byte:02X} at offset \d+ is a C1 "
                                              rf"control character.*likely Windows-1252 labelled {cs}"):
        decode(data)


@settings(max_examples=200, deadline=None, database=None)
@given(text=st.text(st.sampled_from(_SWEDISH + "’“”–—…€"), min_size=1).filter(
    lambda t: any(c in "’“”–—…€" for c in t)))
def test_property_c1_bytes_declared_8859_1_are_never_stored(text):
    """Windows-1252 punctuation under an 8859/1 label: always refused (C1 controls or the UTF-8
    signature), never decoded into C1 control characters."""
    with pytest.raises(CharsetMismatch):
        decode(message("8859/1", text).encode("cp1252"))


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.binary(max_size=300), cs=st.sampled_from(sorted(TABLE_0211) + ["CP1252", "junk"]))
def test_property_any_bytes_under_any_label_raise_only_hl7error(data, cs):
    raw = message(cs, "x").encode("ascii") + data
    try:
        decode(raw)
    except HL7Error:
        pass
