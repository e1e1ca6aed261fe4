"""The identity guard's template rule (genrep.text.identity_template): a template vetted once and its
filled-in values per message decide exactly as ``IdentityGuard.check`` on the whole message."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrep.errors import IdentityViolation
from genrep.text import identities
from genrep.text.identities import Allowlist, IdentityGuard, is_vetted
from genrep.text.identity_template import VettedTemplate

ALLOWLIST = Allowlist.load()
ALLOWED = sorted(ALLOWLIST._numbers)[0]          # 12 digits, allowlisted
FOREIGN = "196408233234"                         # checksum-valid, not on the allowlist
SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def _decide_full(payload: bytes) -> bool:
    """True when the guard passes the whole message."""
    identities.reset_refusals()
    identities.forget_vetted()
    try:
        IdentityGuard(ALLOWLIST).check(payload)
        return True
    except IdentityViolation:
        return False
    finally:
        identities.reset_refusals()


def _decide_fast(pieces, values) -> tuple[bool, VettedTemplate, bytes | None]:
    identities.reset_refusals()
    identities.forget_vetted()
    template = VettedTemplate(IdentityGuard(ALLOWLIST), pieces)
    try:
        payload = template.fill(values)
        return True, template, payload
    except IdentityViolation:
        return False, template, None
    finally:
        identities.reset_refusals()


def _compose(pieces, values) -> bytes:
    out = [pieces[0]]
    for v, p in zip(values, pieces[1:]):
        out += [v, p]
    return b"".join(out)


# fragments a template is made of: digits and separators next to the boundaries, every escape
# the decoders know, non-ASCII digits, dashes and spaces, timestamps, numbers allowed and not
FRAGMENTS = st.sampled_from([
    "|", "^", "\r", "\n", "~", "&", " ", "-", "+", "0", "1", "3", "9", "19", "640823", "3234", "6408233234",
    "20240101", "202401011230", "20240101123000", FOREIGN, ALLOWED, ALLOWED[2:8] + "-" + ALLOWED[8:],
    "\\X31\\", "\\X2D\\", "\\X7C\\", "\\H\\", "\\N\\", "\\.br\\", "\\E\\", "\\F\\", "\\S\\", "\\Zq", "\\Zq\\",
    "\\", "%31", "%2D", "%7C", "%0D", "%", "\\u0031", "\\u002d", "&#49;", "&#x31;", "&#", "\\x31", "\\xe2\\x80\\x91",
    "\uff11", "\u0661", "\u2011", "\u2009", "\u00a0", "\u200b", "\u00ad", "\u2014", "å", "ö", "A", "Z", "X", "OBX|1|TS|",
    "MSH|^~\\&|", "OBR|1||", "|20240101123000|", "PID|1||",
])
VALUE_CHARS = st.sampled_from(list("0123456789ABZXuPx") + ["640823", "3234", "19", FOREIGN, ALLOWED])


@st.composite
def templates(draw):
    slots = draw(st.integers(1, 3))
    pieces = []
    for k in range(slots + 1):
        body = "".join(draw(st.lists(FRAGMENTS, max_size=8)))
        left = draw(st.sampled_from(["|", "|", "^", "\r", "", "1", "-", " ", "\\"])) if k > 0 else ""
        right = draw(st.sampled_from(["|", "|", "^", "\r", "", "1", "-", " ", "%"])) if k < slots else ""
        head = draw(st.sampled_from(["", "MSH|^~\\&|", "OBR|1||", "OBX|1|TS|"])) if k == 0 else ""
        pieces.append((head + left + body + right).encode("utf-8"))
    values = [("".join(draw(st.lists(VALUE_CHARS, max_size=4)))).encode("ascii") for _ in range(slots)]
    return pieces, values


@SETTINGS
@given(templates())
def test_the_template_rule_decides_as_the_whole_scan(case):
    pieces, values = case
    composed = _compose(pieces, values)
    full = _decide_full(composed)
    fast, template, payload = _decide_fast(pieces, values)
    assert fast == full, (template.why_not, composed)
    if fast:
        assert payload == composed
        assert is_vetted(payload, ALLOWLIST) or len(payload) < identities._VETTED_MIN_LEN


def _eligible(pieces) -> VettedTemplate:
    template = VettedTemplate(IdentityGuard(ALLOWLIST), pieces)
    return template


def test_an_ordinary_template_takes_the_fast_path_and_registers_the_message():
    pieces = [b"MSH|^~\\&|A|B|C|D|20240101120000||ORU^R01|", b"|P|2.5\rPID|1||" + ALLOWED.encode()
              + b"\rOBX|1|TX|||caf\xc3\xa9 \\.br\\ ok||||||F\rOBR|1||", b"|X\r"]
    template = _eligible(pieces)
    assert template.eligible, template.why_not
    payload = template.fill([b"LOABCDEF000123P12", b"LAABCDEF000124P12"])
    assert template.fast == 1 and is_vetted(payload, ALLOWLIST)


# -- each precondition goes red when its check is removed: these must fall back and be refused --

def _refused(pieces, values) -> str:
    assert not _decide_full(_compose(pieces, values))  # the whole scan refuses ...
    template = _eligible(pieces)
    with pytest.raises(IdentityViolation) as info:       # ... and so does the template
        template.fill(values)
    assert template.fast == 0
    return str(info.value)


def test_a_slot_next_to_a_digit_is_not_a_boundary():
    # "19640823" + "3234": one number only once filled in
    message = _refused([b"MSH|^~\\&|A|B|19640823", b"|C\r"], [b"3234"])
    assert "MSH-5" in message


def test_a_value_with_a_percent_escape_is_scanned_whole():
    _refused([b"MSH|^~\\&|A|B|", b"|C\r"], [b"640823%2D3234"])


def test_a_value_with_an_hl7_escape_is_scanned_whole():
    _refused([b"MSH|^~\\&|A|B|", b"|C\r"], [b"640823\\X2D\\3234"])


def test_a_cr_boundary_folded_to_a_space_is_no_boundary():
    # a non-Latin-1 dash makes the decoded view fold: CR -> space, a SHAPE separator
    _refused([b"MSH|^~\\&|A|\xe2\x80\x94|", b"\r3234|C\r"], [b"640823"])


def test_an_escape_covering_a_boundary_is_no_boundary():
    # in the template, \\Zq||\\ swallows both boundaries (and the backslash of \\X31\\, so no
    # number); filled with a long value it is no escape, \\X31\\ decodes to "1", and "1" +
    # "96408233234" is a number
    message = _refused([b"MSH|^~\\&|A|\\Zq|", b"|\\X31\\96408233234|C\r"], [b"B" * 40])
    assert "decoded" in message


def test_a_value_holding_a_foreign_number_is_refused_naming_the_field():
    message = _refused([b"MSH|^~\\&|A|B|", b"|C\r"], [FOREIGN.encode()])
    assert "MSH-5" in message


def _checksum_valid_stamp() -> str:
    """A 12-digit HL7 timestamp that is also a checksum-valid personnummer not on the allowlist."""
    from genrep.text.identity_scan import SHAPE, canonical_from_match
    for month in range(1, 13):
        for day in range(1, 29):
            stamp = f"2024{month:02d}{day:02d}1230"
            number = canonical_from_match(SHAPE.fullmatch(stamp))
            if number is not None and number not in ALLOWLIST._numbers:
                return stamp
    raise AssertionError("no such timestamp")


def test_a_template_relying_on_the_timestamp_exemption_is_scanned_whole():
    # 12-digit timestamps are checksum-valid one time in ten: exempt only in a TS field, as a whole
    # (first component); the template rule relies on no exemption, so every message is scanned whole
    stamp = _checksum_valid_stamp().encode()
    head = b"MSH|^~\\&|A|B|C|D|20240101120000||ORU^R01|X|P|2.5\rOBR|1||"
    for pieces, passes in (([head, b"|||||" + stamp + b"|\r"], True),          # OBR-3 slot, OBR-7 stamp
                           ([head + b"||||", b"^" + stamp + b"|\r"], False),    # slot = OBR-7.1
                           ([head + b"||||" + stamp + b"^", b"|\r"], True)):    # slot = OBR-7.2
        template = _eligible(pieces)
        assert not template.eligible
        assert _decide_fast(pieces, [b"A"])[0] == _decide_full(_compose(pieces, [b"A"])) == passes
        # a timestamp filled into OBR-7.1 makes the field exempt again: still the guard's decision
        assert _decide_fast(pieces, [b"20240101"])[0] == _decide_full(_compose(pieces, [b"20240101"])) is True


def test_the_refusal_latch_is_consulted_on_every_fill():
    template = _eligible([b"MSH|^~\\&|A|B|", b"|C\r"])
    assert template.eligible
    identities.record_refusal("an earlier refusal")
    with pytest.raises(IdentityViolation, match="nothing more is sent"):
        template.fill([b"LOABC"])


@pytest.mark.parametrize("framed", [False, True], ids=["payload", "frame"])
def test_the_load_orus_take_the_fast_path(framed):
    """The RisUser's frames (``oru_framed``: VT and FS CR are template pieces) are vetted by their
    values as the payloads are, not scanned whole."""
    from genrep.load.workload import Payloads
    payloads = Payloads()
    if framed:
        payload, request, accession = payloads.oru_framed("test")
        control_id = request.control_id
    else:
        payload, control_id, accession = payloads.oru_with_accession("test")
    template, *_ = payloads._oru_template(framed=framed)
    assert template.eligible, template.why_not
    assert template.fast >= 1 and is_vetted(payload, payloads.allowlist)
    assert control_id.encode() in payload and payload.count(accession.encode()) == 2
    IdentityGuard(payloads.allowlist).check(bytes(payload))  # a copy, scanned whole: passes too


def test_a_template_vetted_yesterday_is_scanned_whole_today(monkeypatch):
    """A 10-digit number's century follows today's date: the template rule holds for the day it was
    vetted on; across midnight every fill goes through the whole scan."""
    from genrep.text import identity_template
    from genrep.load.workload import Payloads
    payloads = Payloads()
    template, slots, *_ = payloads._oru_template(framed=False)
    assert template.eligible
    before = template.fast
    template.fill([b"A1" for _ in slots])
    assert template.fast == before + 1

    from datetime import datetime, timedelta
    midnight = datetime.combine(identity_template.date.today() + timedelta(days=1), datetime.min.time()).timestamp()
    assert template._day_ends == midnight
    monkeypatch.setattr(identity_template.time, "time", lambda: midnight - 0.001)
    template.fill([b"A2" for _ in slots])
    assert template.fast == before + 2  # the last moment of the day it was vetted on: by the rule
    monkeypatch.setattr(identity_template.time, "time", lambda: midnight - 86400 - 0.001)
    template.fill([b"A4" for _ in slots])
    assert template.fast == before + 2  # the clock set back to the day before: scanned whole
    monkeypatch.setattr(identity_template.time, "time", lambda: midnight)
    template.fill([b"A3" for _ in slots])
    assert template.fast == before + 2  # the next day: not by the rule, scanned whole


def test_every_slot_is_looked_at_and_a_value_repeated_in_a_row_decides_for_both():
    """Each slot's value is checked, not only the first: a refused number in the last slot is
    refused. The same object in two slots in a row (the load ORU's accession) decides for both:
    refused in both, or the fill vetted by the rule."""
    pieces = [b"MSH|^~\\&|A|B|", b"|", b"|", b"|\r"]
    ok, template, _ = _decide_fast(pieces, [b"A1", b"B2", FOREIGN.encode()])
    assert template.eligible and not ok
    foreign = FOREIGN.encode()
    ok, _, _ = _decide_fast(pieces, [b"A1", foreign, foreign])
    assert not ok
    same = b"ACC000001P01"
    ok, template, payload = _decide_fast(pieces, [b"A1", same, same])
    assert ok and template.fast == 1 and payload == b"MSH|^~\\&|A|B|A1|ACC000001P01|ACC000001P01|\r"


class _Shifty(list):
    """A sequence that gives other values the second time it is gone through."""

    def __init__(self, first, then):
        super().__init__(first)
        self._then, self._seen = list(then), 0

    def __iter__(self):
        self._seen += 1
        return iter(list.__iter__(self) if self._seen == 1 else self._then)


def test_what_is_checked_is_what_the_message_holds():
    """The values are taken once: a sequence that changes between being checked and being put in
    the message cannot slip a refused number past the template rule."""
    pieces = [b"MSH|^~\\&|A|B|", b"|", b"|\r"]
    values = _Shifty([b"A1", b"B2"], [b"A1", FOREIGN.encode()])
    ok, template, payload = _decide_fast(pieces, values)
    assert template.eligible
    assert not ok or FOREIGN.encode() not in payload
