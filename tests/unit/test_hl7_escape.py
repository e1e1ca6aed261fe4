"""escape/unescape: the exact escapes we send and a decoder that never drops text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.hl7 import FT_LINE_BREAK, escape, unescape


def test_escape_delimiters_and_line_breaks():
    assert escape("a|b^c&d~e\\f") == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"
    assert escape("rad 1\r\nrad 2") == "rad 1\\X0D\\\\X0A\\rad 2"


def test_escape_leaves_text_characters_alone():
    text = "åäöÅÄÖé\u00a0\ttab  trailing  "
    assert escape(text) == text


def test_ft_line_break_constant():
    assert FT_LINE_BREAK == "\\.br\\"
    assert unescape("a" + FT_LINE_BREAK + "b") == "a\nb"


@pytest.mark.parametrize("raw, expected", [
    ("\\F\\\\S\\\\T\\\\R\\\\E\\", "|^&~\\"),
    ("\\H\\viktigt\\N\\", "viktigt"),
    ("rad\\X0D0A\\nästa", "rad\r\nnästa"),
    ("\\XC3A5\\", "å"),
    ("\\Xc3a5\\", "å"),
    ("\\XC3\\\\XA5\\", "å"),  # a character split over two hex escapes
    ("a\\.br\\b", "a\nb"),
    ("a\\.sp\\b", "a\nb"),
    ("a\\.sp3\\b", "a\n\n\nb"),
    ("a\\.sp 2\\b", "a\n\nb"),
    ("\\.in+4\\a\\.ti-2\\b\\.fi\\c\\.nf\\d\\.sk 3\\e\\.ce\\f", "abcdef"),
])
def test_unescape_known_sequences(raw, expected):
    assert unescape(raw) == expected


def test_unescape_hex_uses_message_charset():
    assert unescape("\\XE5\\", charset="latin-1") == "å"
    assert unescape("\\XA4\\", charset="iso8859-15") == "€"


@pytest.mark.parametrize("raw", [
    "C:\\temp",          # lone backslash, no closing one
    "trailing \\",
    "\\Q\\",             # unknown escape
    "\\Zcustom\\",       # site-defined escape
    "\\X\\", "\\XABC\\",  # empty / odd hex
    "\\.xx\\",           # unknown formatting command
])
def test_unescape_keeps_unknown_literally(raw):
    assert unescape(raw) == raw


def test_unescape_keeps_undecodable_hex_literally():
    assert unescape("\\XC3\\", charset="utf-8") == "\\XC3\\"
    assert unescape("\\XC3A5\\", charset="ascii") == "\\XC3A5\\"


def test_unknown_escape_does_not_swallow_a_valid_one_after_it():
    # A sender that forgot to escape a backslash: the \F\ after it still decodes.
    assert unescape("C:\\dir och 1\\F\\2") == "C:\\dir och 1|2"


def test_huge_space_count_is_capped():
    assert len(unescape("\\.sp999999999\\")) <= 1000


def test_unescape_with_nonstandard_delimiters():
    assert unescape("a#F#b#S#c", delimiters="!$%#@") == "a!b$c"


@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
def test_round_trip_arbitrary_text(text):
    escaped = escape(text)
    assert "\r" not in escaped and "\n" not in escaped
    assert not set("|^~&") & set(escaped)
    assert unescape(escaped) == text


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(list("\\XF.brsp0123456789ACabc|^~& å\r\n"))))
def test_unescape_never_raises(text):
    unescape(text)
    unescape(text, charset="latin-1")
    unescape(text, charset="ascii")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="\\|^&~\r\n\x0b\x1cabå€EFSTRX", max_size=40))
def test_escape_equals_the_one_pass_translation(text):
    """The replace chain gives exactly the one-pass table translation (no double escaping)."""
    from genrep.hl7.escape import _ESCAPE_TABLE
    assert escape(text) == text.translate(_ESCAPE_TABLE)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab\r\nå|\\^&~\x0b\x1c", max_size=40))
def test_report_lines_split_and_escaped_as_one_line_at_a_time(text):
    """The fast paths of the ORU builder (C-level line split, no escaping when no line needs it)
    give exactly the straightforward result."""
    import re

    from genrep.hl7.build import _text_values, split_lines
    assert split_lines(text) == re.split(r"\r\n|\r|\n", text)
    assert _text_values(text, True) == [escape(line) for line in re.split(r"\r\n|\r|\n", text)]
