"""MSH-18 character sets supported by genrep, shared by the builder and the (fast) parser.

Kept in its own module so that ``parse`` does not import ``build`` (and with it hl7apy, which is
slow to import and not wanted on a receiver's hot path).
"""

from __future__ import annotations

from genrep.errors import HL7Error

__all__ = ["CHARSETS", "codec_for"]

#: MSH-18 value -> Python codec.  "" (MSH-18 absent) means the HL7 default, 7-bit ASCII.
CHARSETS: dict[str, str] = {
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "": "ascii",
}


def codec_for(msh18: str) -> str:
    """Python codec for an MSH-18 value; HL7Error for one genrep does not support."""
    try:
        return CHARSETS[msh18.strip()]
    except KeyError:
        supported = ", ".join(repr(k) for k in CHARSETS)
        raise HL7Error(f"unsupported character set in MSH-18: {msh18!r} "
                       f"(supported: {supported})") from None
