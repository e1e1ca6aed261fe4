"""Test identities: allowlist, canonical forms, the outbound guard and masking (genrep.text.identities)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.errors import ConfigError, IdentityViolation
from genrep.text.identities import (DEFAULT_ALLOWLIST, Allowlist, IdentityGuard, TestIdentity, _luhn_ok,
                               canonical, mask, mask_number, reset_refusals)

# The personnummer package's documentation example: checksum-valid, NOT on the allowlist.
FOREIGN = "196408233234"
FOREIGN_FORMS = ("196408233234", "19640823-3234", "640823-3234", "6408233234")


@pytest.fixture(scope="module")
def allowlist() -> Allowlist:
    return Allowlist.load()


@pytest.fixture(scope="module")
def guard(allowlist) -> IdentityGuard:
    return IdentityGuard(allowlist)


def nothing_allowed() -> IdentityGuard:
    """A guard whose allowlist matches no real-shaped number (000000000000 is no valid date)."""
    return IdentityGuard(Allowlist([TestIdentity("000000000000", "personnummer")], "empty"))


def pid(number: str) -> str:
    return (f"MSH|^~\\&|RIS|RAD|EHR|HOSP|20241112053000||ORU^R01|MSG0001|P|2.5|||||SE|UNICODE UTF-8\r"
            f"PID|1||{number}^^^SKV^PN||Testsson^Test||19121212|M\r"
            f"OBR|1||ACC123|71020^DT thorax|||20241112053000\r")


# -- allowlist ------------------------------------------------------------------------------------

def test_allowlist_loads_ten_identities_and_two_reserve_numbers(allowlist):
    assert len(allowlist.identities) == 12
    assert all(re.fullmatch(r"[0-9]{12}", i.number) for i in allowlist.identities)
    kinds = {i.kind for i in allowlist.identities}
    assert kinds == {"personnummer", "samordningsnummer", "reservnummer"}
    numbered = [i for i in allowlist.identities if i.kind != "reservnummer"]
    assert len(numbered) == 10
    assert all(i.is_coordination_number == (i.kind == "samordningsnummer") for i in numbered)
    reserve = [i for i in allowlist.identities if i.kind == "reservnummer"]
    assert all(i.birth_date is None and i.sex == "U" and i.number in allowlist for i in reserve)
    assert allowlist.pick(0).kind != "reservnummer"  # only asked for, never picked by default
    assert allowlist.source == str(DEFAULT_ALLOWLIST)


def test_allowlist_membership_in_any_form(allowlist):
    assert "191212121212" in allowlist
    assert "19121212-1212" in allowlist
    assert "121212+1212" in allowlist       # 10-digit form, over 100: '+'
    assert "121212-1212" not in allowlist   # that is someone born 2012
    assert FOREIGN not in allowlist
    assert "not a number" not in allowlist


def test_bad_allowlist_row_names_file_key_and_line(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("# comment\n\nnumber,kind,note\n191212121212,personnummer,\n# another comment\n"
                    "191212121213,personnummer,bad checksum\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Allowlist.load(path)
    assert info.value.key == "number" and info.value.line == 6 and f"{path}:6" in str(info.value)


def test_bad_allowlist_kind_names_line(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("number,kind\n# c\n191212121212,citizen\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown kind 'citizen'") as info:
        Allowlist.load(path)
    assert info.value.line == 3


@pytest.mark.parametrize("text, words", [
    ("nummer,typ\n191212121212,personnummer\n", "header"),
    ("number,kind\n", "no identities"),
    ("", "header"),
])
def test_allowlist_shape_errors(tmp_path, text, words):
    path = tmp_path / "ids.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=words):
        Allowlist.load(path)


def test_missing_allowlist(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Allowlist.load(tmp_path / "nope.csv")


def test_pick_is_deterministic_and_filters(allowlist):
    numbered = [i for i in allowlist.identities if i.kind != "reservnummer"]
    assert allowlist.pick(0) == allowlist.pick(len(numbered))  # wraps over the default pool
    assert allowlist.pick(1, kind="samordningsnummer").kind == "samordningsnummer"
    assert date.today().year - allowlist.pick(0, min_age=100).birth_date.year >= 100
    assert allowlist.pick(0, kind="reservnummer").kind == "reservnummer"
    with pytest.raises(ConfigError):
        allowlist.pick(kind="reservnummer", min_age=1)  # a reserve number has no age


# -- canonical ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("191212121212", "191212121212"),
    ("19121212-1212", "191212121212"),
    ("121212+1212", "191212121212"),
    ("121212-1212", "201212121212"),
    ("1212121212", "201212121212"),
    ("  196408233234 ", FOREIGN),
    ("640823-3234", FOREIGN),
    ("900101+9802", "189001019802"),
    ("000229-2399", "200002292399"),
    ("191401682396", "191401682396"),     # samordningsnummer: day 68 = 8th
    ("140168+2396", "191401682396"),
    ("202201612393", "202201612393"),
])
def test_canonical_valid(value, expected):
    assert canonical(value) == expected


@pytest.mark.parametrize("value", [
    "196408233235",    # checksum
    "640823-3235",
    "19640832-3234",   # no 32nd day (and not a valid samordningsnummer day either)
    "191401922396",    # day 92 - 60 = 32
    "190002292391",    # 1900 was no leap year
    "19121212121",     # too short
    "1912121212123",   # too long
    "19121212  1212",  # two spaces: one space is a separator (a receiver reads it as one)
    "abcdefghij",
    "",
])
def test_canonical_invalid(value):
    assert canonical(value) is None


# -- TestIdentity ---------------------------------------------------------------------------------

def test_identity_repr_hides_number():
    ident = TestIdentity("191212121212", "personnummer", note="Tolvan")
    for text in (repr(ident), str(ident), f"{ident}", repr([ident])):
        assert "191212121212" not in text and "1212121212" not in text
        assert "****" in text
    assert ident.masked() == "19121212****"


@pytest.mark.parametrize("number, sex, born", [
    ("191212121212", "M", date(1912, 12, 12)),
    ("199001012385", "F", date(1990, 1, 1)),
    ("200002292399", "M", date(2000, 2, 29)),
    ("191401682396", "M", date(1914, 1, 8)),
    ("202601612381", "F", date(2026, 1, 1)),
])
def test_sex_and_birth_date(number, sex, born):
    ident = TestIdentity(number, "x")
    assert ident.sex == sex and ident.birth_date == born
    assert ident.is_coordination_number == (int(number[6:8]) > 60)


def test_ten_digit_separator_by_age():
    old = TestIdentity("189001019802", "personnummer")
    young = TestIdentity("199001012385", "personnummer")
    assert old.ten_digit() == "900101+9802"
    assert young.ten_digit() == "900101-2385"
    # round trip: the 10-digit form means the same person
    for ident in (old, young, TestIdentity("191401682396", "samordningsnummer")):
        assert canonical(ident.ten_digit()) == ident.number


def test_ten_digit_plus_from_the_year_of_turning_100():
    year = date.today().year
    # born on the last day of the year, exactly 100 years back: '+' already applies this year
    base = f"{year - 100}1231"
    tail = next(f"{n:03d}{c}" for n in range(1000) for c in range(10) if _luhn_ok(f"{base[2:]}{n:03d}{c}"))
    assert TestIdentity(base + tail, "personnummer").ten_digit()[6] == "+"
    base99 = f"{year - 99}0101"
    tail99 = next(f"{n:03d}{c}" for n in range(1000) for c in range(10) if _luhn_ok(f"{base99[2:]}{n:03d}{c}"))
    assert TestIdentity(base99 + tail99, "personnummer").ten_digit()[6] == "-"


# -- IdentityGuard --------------------------------------------------------------------------------

def test_guard_passes_allowlisted_numbers_in_pid(guard, allowlist):
    for ident in allowlist.identities:
        for form in (ident.number, ident.ten_digit(), ident.number[:8] + "-" + ident.number[8:]):
            guard.check(pid(form), destination="ehr")
            guard.check(pid(form).encode("latin-1"))


@pytest.mark.parametrize("form", FOREIGN_FORMS)
def test_guard_refuses_foreign_number_without_echoing_it(guard, form):
    with pytest.raises(IdentityViolation) as info:
        guard.check(pid(form), destination="ehr-int.test:2575")
    msg = str(info.value)
    assert "not on the test-identity allowlist" in msg and "ehr-int.test:2575" in msg
    for secret in (FOREIGN, "6408233234", "3234"):
        assert secret not in msg
    assert "19640823****" in msg


def test_guard_refuses_foreign_number_in_bytes(guard):
    with pytest.raises(IdentityViolation):
        guard.check(pid(FOREIGN).encode("latin-1"))


def test_guard_refuses_foreign_among_allowlisted(guard):
    with pytest.raises(IdentityViolation):
        guard.check(pid("191212121212") + f"NTE|1||Relative {FOREIGN}\r")


@pytest.mark.parametrize("ts", ["20241112053000", "20241112053000+0100", "20241112053000.1234",
                                 "19640823323400", "1964082332340"])
def test_hl7_timestamps_and_long_digit_runs_not_flagged(guard, ts):
    guard.check(f"MSH|^~\\&|RIS|RAD|EHR|HOSP|{ts}||ORU^R01|1|P|2.5\rOBR|1||A|X|||{ts}\r")


def test_checksum_invalid_number_not_flagged(guard):
    guard.check(pid("196408233235"))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10 ** 14 - 1), st.sampled_from([11, 13, 14]),
       st.sampled_from(["|", "^", " ", "\r", "", "x"]))
def test_digit_runs_of_other_lengths_never_flagged(n, length, sep):
    digits = f"{n:0{length}d}"[-length:]
    nothing_allowed().check(f"{sep}{digits}{sep}")


# -- mask -----------------------------------------------------------------------------------------

def test_mask_masks_valid_numbers_only():
    text = f"Pat {FOREIGN}, rel 640823-3234, test 19121212-1212, bad 196408233235, ts 20241112053000"
    out = mask(text)
    assert FOREIGN not in out and "640823-3234" not in out and "1212-1212" not in out
    assert "19640823****" in out and "640823-****" in out and "19121212-****" in out
    assert "196408233235" in out and "20241112053000" in out
    assert mask(out) == out


def test_mask_number():
    assert mask_number("19121212-1212") == "19121212****"
    assert mask_number("123") == "****"


_FRAGMENTS = st.one_of(
    st.sampled_from(FOREIGN_FORMS + ("191212121212", "121212+1212", "140168-2396", "19121212-1212",
                                     "20241112053000", "000229-2399")),
    st.text(alphabet="0123456789-+ |^\rab", max_size=16),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=8))
def test_masked_text_never_holds_a_number(fragments):
    """After mask(), even a guard that allows nothing finds no checksum-valid number."""
    text = "".join(fragments)
    masked = mask(text)
    nothing_allowed().check(masked)
    assert mask(masked) == masked
    # masking only ever replaces digits by '*': the text's shape is kept
    assert len(masked) == len(text)
    assert all(a == b or (a.isdigit() and b == "*") for a, b in zip(text, masked))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_mask_of_arbitrary_text_is_safe(text):
    nothing_allowed().check(mask(text))


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="0123456789+- a\n|€å", max_size=80))
def test_fast_shape_scan_finds_exactly_what_the_regex_finds(text):
    """``find_shapes`` (a C-level prefilter for digit runs) is ``_SHAPE.finditer``, only faster."""
    from genrep.text.identities import _SHAPE, find_shapes
    assert [m.span() for m in find_shapes(text)] == [m.span() for m in _SHAPE.finditer(text)]


def test_guard_finds_a_number_deep_in_a_long_text(guard):
    filler = "Ingen fraktur 2024-11-05 kl 08:15, 12345 6789, 20261123054800. " * 300
    with pytest.raises(IdentityViolation):
        guard.check(filler + "pnr " + FOREIGN + " " + filler)
    reset_refusals()  # each check below is its own run
    with pytest.raises(IdentityViolation):  # the same in UTF-8 bytes (offsets of multi-byte text)
        guard.check(("åäö " * 500 + FOREIGN).encode("utf-8"))
    reset_refusals()
    guard.check(filler)


def test_generated_ids_never_look_like_a_personnummer():
    """Control ids and accessions a run generates must never trip the guard: a hex run tag ending
    in digits next to a 6-digit counter once made a samordningsnummer-shaped accession."""
    from genrep.text.identities import find_shapes, run_tag
    from genrep.load.workload import new_id
    from genrep.integrations.radiology import new_accession, new_control_id
    tags = [run_tag() for _ in range(2000)]
    assert all(len(t) == 6 and t.isalpha() and t.isupper() for t in tags)
    ids = [f(*a) for _ in range(300) for f, a in ((new_id, ("LA",)), (new_accession, ()), (new_control_id, ()))]
    for tag in tags[:200]:  # any tag next to any counter value
        ids += [f"GR{tag}{n:06d}" for n in (0, 123456, 999999)] + [f"LA{tag}{n:06d}P{p:02d}" for n in (0, 850368) for p in (0, 99)]
    assert not [i for i in ids if list(find_shapes(i))]
