"""The guard's decoded views, field types and masking (genrep.text.identity_scan, genrep.text.identities)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrep.text import identities
from genrep.errors import IdentityViolation
from genrep.text.identities import Allowlist, IdentityGuard, TestIdentity, mask
from genrep.text.identity_spellings import spellings
from genrep.text.identity_scan import SHAPE, find_shapes, is_hl7_timestamp, numbers_in


FOREIGN = "196408233234"
ALLOWLIST = Allowlist.load()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


def guard() -> IdentityGuard:
    return IdentityGuard(ALLOWLIST)


def nothing_allowed() -> IdentityGuard:
    return IdentityGuard(Allowlist([TestIdentity("000000000000", "personnummer")], "empty"))


def refuses(payload) -> str:
    try:
        with pytest.raises(IdentityViolation) as info:
            guard().check(payload)
        return str(info.value)
    finally:
        identities.reset_refusals()


@pytest.mark.parametrize("spelled", [
    "196408233234", "19640823-3234", "640823-3234", "6408233234",
    "640823 3234", "640823\u20133234", "640823\u20113234", "640823\xa03234", "640823\u2212" + "3234",
    "６４０８２３－３２３４", "٦٤٠٨٢٣-٣٢٣٤", "6408\u200b23-3234", "64082\u00ad3-3234",
    "\\X36\\408233234", "\\X3634\\0823-3234", "640823\\H\\-\\N\\3234", "6408\\.br\\23-3234",
    "%36%34%30%38%32%33-3234", "640823%2D3234", "%EF%BC%96408233234", "\\u0036408233234",
    "&#54;408233234", "&#x36;408233234", "%5CX36%5C408233234", "\\\\X36\\\\408233234",
])
def test_each_spelling_is_refused_and_masked(spelled):
    for context in (f"Tidigare journal {spelled}.", f"PID|1||{spelled}^^^SKV^PN", f'{{"patient": "{spelled}"}}'):
        assert "19640823****" in refuses(context) or "640823" in refuses(context)
        masked = mask(context)
        nothing_allowed().check(masked)  # no number left in any view of the masked text
        identities.reset_refusals()


@SETTINGS
@given(text=spellings(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_generated_spellings_are_refused_and_masked_anywhere(text, before, after):
    sep = " "
    payload = before + sep + text + sep + after
    refuses(payload)
    nothing_allowed().check(mask(payload))


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789+- a\n|€å", max_size=80))
def test_fast_scan_finds_exactly_what_the_regex_finds(text):
    assert [m.span() for m in find_shapes(text)] == [m.span() for m in SHAPE.finditer(text)]


def test_a_day_of_minute_timestamps_in_timestamp_fields_is_not_an_identity():
    """YYYYMMDDHHMM is personnummer-shaped and checksum-valid one time in ten: in a TS/DTM field it
    is a date. Every minute of a day, in MSH-7, EVN-2, OBR-7 and OBX-14, passes."""
    start = datetime(2024, 11, 12)
    flagged_as_text = 0
    for minute in range(24 * 60):
        ts = (start + timedelta(minutes=minute)).strftime("%Y%m%d%H%M")
        msg = (f"MSH|^~\\&|RIS|RAD|EHR|HOSP|{ts}||ORU^R01|C{minute}|P|2.5\rEVN|R01|{ts}\r"
               f"PID|1||191212121212^^^SKV^PN\rOBR|1||ACC1|71020|||{ts}\r"
               f"OBX|1|TX|71020||Ingen fraktur.||||||F|||{ts}\r")
        guard().check(msg)
        flagged_as_text += bool(numbers_in(ts))
    assert flagged_as_text > 100  # the same digits outside a timestamp field would be refused


@pytest.mark.parametrize("where,segment", [
    ("PID-3", "PID|1||{n}^^^SKV^PN"),
    ("NTE-3", "NTE|1||Remiss från {n}"),
    ("OBX-5", "OBX|1|TX|71020||Patient {n} undersökt||||||F"),
    ("OBR-7", "OBR|1||ACC1|71020|||{n}X"),           # not a valid timestamp: scanned
    ("OBX-14", "OBX|1|TX|71020||x||||||F|||19640823323"),  # 11 digits: no number, see below
])
def test_refusal_names_the_segment_field(where, segment):
    msg = "MSH|^~\\&|RIS|RAD|EHR|HOSP|202411120530||ORU^R01|C1|P|2.5\r" + segment.format(n=FOREIGN) + "\r"
    if where == "OBX-14":
        guard().check(msg)
        return
    assert f"{where} holds" in refuses(msg)


def test_a_number_in_a_timestamp_field_that_is_no_timestamp_is_refused():
    # 196408233234: 1964-08-23 32:34 is no time of day, so OBR-7 is scanned like any field
    assert not is_hl7_timestamp(FOREIGN)
    assert "OBR-7 holds" in refuses(f"MSH|^~\\&|A|B|C|D|202411120530||ORU^R01|1|P|2.5\rOBR|1||X|Y|||{FOREIGN}\r")


def test_refusal_names_the_json_path_and_url_parameter():
    assert "$.subject.identifier[0].value holds" in refuses(
        '{"subject": {"identifier": [{"value": "19640823-3234"}]}}')
    with pytest.raises(IdentityViolation, match="URL query parameter 'patient' holds"):
        identities.guard_outbound("http://h/x?a=1&patient=19640823%2D3234", destination="h", kind="url")


def test_the_refusal_message_never_holds_the_number():
    message = refuses(f"PID|1||{FOREIGN}")
    assert FOREIGN not in message and "3234" not in message.replace("19640823", "")


def test_allowlisted_numbers_in_any_spelling_pass():
    guard().check("PID|1||１９１２１２１２－１２１２ \\X31\\91212121212 19121212%2D1212")


def test_masking_keeps_plain_text_shape_and_masks_escaped_forms_whole():
    assert mask(f"pnr {FOREIGN} ok") == "pnr 19640823**** ok"
    assert mask("pnr \\X36\\408233234 ok") == "pnr 640823**** ok"
    assert mask("Ingen fraktur 2024-11-05, 12345 6789.") == "Ingen fraktur 2024-11-05, 12345 6789."
