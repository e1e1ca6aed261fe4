"""MSH-18 character sets: the ones genrep builds messages in, and the whole of HL7 table 0211 that
Python can read. Shared by the builder and the (fast) parser.

Kept in its own module so that ``parse`` does not import ``build`` (and with it hl7apy, which is
slow to import and not wanted on a receiver's hot path).
"""

from __future__ import annotations

from genrep.errors import HL7Error

__all__ = ["CHARSETS", "CODE_PAGE_LABELS", "ISO2022_CODECS", "TABLE_0211", "WINDOWS_CODE_PAGES", "codec_for",
           "reading_codec"]

#: The MSH-18 values genrep *builds* messages in (a contract's ``charset``) -> Python codec.
#: "" (MSH-18 absent) means the HL7 default, 7-bit ASCII.
CHARSETS: dict[str, str] = {
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "": "ascii",
}

#: HL7 table 0211 (alternate character sets, v2.3-v2.8) -> the Python codec that reads it, or None
#: when Python has none. Keys are upper case; ``codec_for`` looks values up case-insensitively.
TABLE_0211: dict[str, str | None] = {
    "": "ascii",
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    # the regional ones: Japanese in ISO 2022 code extension (ESC sequences switch the set)
    "ISO IR14": "iso2022_jp_ext",    # JIS X 0201 (Roman and half-width katakana)
    "ISO IR87": "iso2022_jp",        # JIS X 0208 (kanji)
    "ISO IR159": "iso2022_jp_1",     # JIS X 0212 (supplementary kanji)
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "CNS 11643-1992": None,          # Python has no CNS 11643 codec
    "BIG-5": "big5",
    # "UNICODE" (v2.3-2.4: ISO/IEC 10646 with no encoding form named): on an MLLP byte stream, whose
    # delimiters are single bytes, in practice UTF-8; a UTF-16 byte order mark is honoured (decode)
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "UNICODE UTF-32": "utf-32",
    # v2.7+: the same sets by their ISO-IR registration numbers (as DICOM names them)
    "ISO IR6": "ascii",
    "ISO IR100": "latin-1",
    "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3",
    "ISO IR110": "iso8859-4",
    "ISO IR126": "iso8859-7",
    "ISO IR127": "iso8859-6",
    "ISO IR138": "iso8859-8",
    "ISO IR144": "iso8859-5",
    "ISO IR148": "iso8859-9",
    "ISO IR192": "utf-8",
}

#: Codecs of ISO 2022 code extension: named in a later repetition of MSH-18 ("ISO IR6~ISO IR87"),
#: they switch sets inside the text with escape sequences, so the whole message is read with them.
ISO2022_CODECS = frozenset({"iso2022_jp", "iso2022_jp_1", "iso2022_jp_ext"})


#: The code pages a profile's MLLP endpoint may name for an MSH-18 value (``code_pages:``, e.g.
#: ``{"8859/1": "cp1252"}``): the peer's documented deviation from table 0211, which has no Windows
#: (or DOS) code page, though real senders label cp1252 bytes 8859/1. Nothing else: a code page
#: stands in for a single-byte set only.
WINDOWS_CODE_PAGES = ("cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
                      "cp850")
_SINGLE_BYTE = frozenset({"ascii", "latin-1", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5", "iso8859-6",
                          "iso8859-7", "iso8859-8", "iso8859-9", "iso8859-15"})
#: The MSH-18 values a code page may stand for: table 0211's single-byte sets (upper case).
CODE_PAGE_LABELS = tuple(k for k, c in TABLE_0211.items() if k and c in _SINGLE_BYTE)


def _code_page(msh18: str, code_pages) -> str | None:
    """The endpoint's code page for an MSH-18 value (keys upper case), None when it names none."""
    return code_pages.get(msh18.strip().upper()) if code_pages else None


def codec_for(msh18: str, code_pages=None) -> str:
    """Python codec for an MSH-18 value genrep *builds* messages in (``CHARSETS``); HL7Error for any
    other (the builder and the generated texts stay within what a contract may choose).
    ``code_pages`` (a profile endpoint's ``code_pages``: MSH-18 value, upper case -> one of
    ``WINDOWS_CODE_PAGES``) overrides the table for the values it names."""
    page = _code_page(msh18, code_pages)
    if page:
        return page
    try:
        return CHARSETS[msh18.strip()]
    except KeyError:
        supported = ", ".join(repr(k) for k in CHARSETS)
        raise HL7Error(f"unsupported character set in MSH-18: {msh18!r} "
                       f"(supported: {supported})") from None


def reading_codec(msh18: str, code_pages=None) -> str:
    """Python codec that *reads* an MSH-18 value of HL7 table 0211 (any case, surrounding spaces
    ignored): what a receiver, and the harness reading an answer, accept.

    HL7Error, naming the value, for one that is not in table 0211 (a Windows code page label such
    as ``CP1252`` is not: a sender using one says so in its interface agreement, not in MSH-18) and
    for the table's one value Python cannot decode (``CNS 11643-1992``). ``code_pages`` as for
    ``codec_for``: the endpoint's documented code page is what the value is read with."""
    page = _code_page(msh18, code_pages)
    if page:
        return page
    key = msh18.strip().upper()
    try:
        codec = TABLE_0211[key]
    except KeyError:
        known = ", ".join(repr(k) for k in TABLE_0211 if k)
        raise HL7Error(f"unsupported character set in MSH-18: {msh18!r} is not in HL7 table 0211 "
                       f"(known: {known}; absent means ASCII)") from None
    if codec is None:
        raise HL7Error(f"unsupported character set in MSH-18: {msh18!r} (HL7 table 0211) has no "
                       "decoder in Python; genrep cannot read it")
    return codec
