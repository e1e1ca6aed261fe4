"""Test identities: only Swedish *test* personnummer from an allowlist ever leave the harness.

The ``personnummer`` package can tell a well-formed number from a malformed one, but not a test
number from a real person's: so identities come only from ``fixtures/identities/*.csv`` (taken from
Skatteverket's published test numbers), numbers are never generated, and every outbound payload is
scanned (``IdentityGuard.check``): any personnummer-shaped, checksum-valid value that is not on the
allowlist stops the run *before* anything is sent. ``mask`` hides identities (even test ones) in
attachments and logs, so reports never carry a full number.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .errors import ConfigError, IdentityViolation

DEFAULT_ALLOWLIST = Path(__file__).resolve().parents[2] / "fixtures" / "identities" / "testpersonnummer.csv"

# A region's reserve numbers (reservnummer) for people without a personnummer/samordningsnummer.
# Their format is each region's own [A]: this one is "99" + 10 digits, as one region uses.
RESERVE_NUMBER = re.compile(r"99[0-9]{10}")

# YYMMDD or YYYYMMDD, optional '-' or '+', then NNNC; not part of a longer digit run.
_SHAPE = re.compile(r"(?<![0-9])((?:1[89]|20)?[0-9]{6})([-+]?)([0-9]{4})(?![0-9])")


# Every personnummer-shaped value lies inside a run of at least 10 digits, "+" and "-". The runs
# are found in C: the text is mapped byte for byte (digits, "+" and "-" to "0", everything else
# to " ") and searched for ten "0"s; ``_SHAPE`` runs only inside those runs. ``_SHAPE`` alone
# starts with a lookbehind, which makes the regex engine try every position: 0.6 ms for a 10 KB
# report, the whole cost of building a load-test message.
_RUN_TABLE = bytes(0x30 if (0x30 <= b <= 0x39 or b in (0x2B, 0x2D)) else 0x20 for b in range(256))
_RUN = re.compile(rb"0+")
_TEN = b"0" * 10


def find_shapes(text: str) -> Iterator[re.Match]:
    """The ``_SHAPE`` matches of ``text``, as ``_SHAPE.finditer(text)`` finds them, faster."""
    # one byte per character, so offsets agree with ``text`` (unencodable characters become "?")
    mapped = text.encode("latin-1", "replace").translate(_RUN_TABLE)
    i = mapped.find(_TEN)
    while i >= 0:  # i starts a run: the search starts after a run's end, or at the text's start
        end = _RUN.match(mapped, i).end()
        # the lookbehind sees the whole text; at ``end`` the next character is not a digit
        yield from _SHAPE.finditer(text, i, end)
        i = mapped.find(_TEN, end)


_DIGIT_TO_LETTER = str.maketrans("0123456789", "GHIJKLMNOP")


def run_tag(length: int = 6) -> str:
    """A random tag of capital letters for the ids a run generates (control ids, accessions).

    Letters only, so a tag next to a counter can never make a run of ten digits: a hex tag ending
    in digits, followed by a 6-digit counter, once made an accession the identity guard read as
    a samordningsnummer (and rightly refused to send)."""
    return os.urandom((length + 1) // 2).hex().upper().translate(_DIGIT_TO_LETTER)[:length]


def _luhn_ok(digits10: str) -> bool:
    total = 0
    for i, ch in enumerate(digits10):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _full_date(century_or_none: str, yymmdd: str, sep: str) -> date | None:
    """Return the birth date (day - 60 for samordningsnummer) or None if it is no date."""
    if century_or_none:
        year = int(century_or_none + yymmdd[:2])
    else:
        this_year = date.today().year
        year = 2000 + int(yymmdd[:2])
        if year > this_year:
            year -= 100
        if sep == "+":
            year -= 100
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > 60:
        day -= 60
    try:
        return date(year, month, day)
    except ValueError:
        return None


def canonical(value: str) -> str | None:
    """12-digit form of a personnummer/samordningsnummer-shaped string, or None if it is not one."""
    m = _SHAPE.fullmatch(value.strip())
    if not m:
        return None
    return _canonical_from_match(m)


def _canonical_from_match(m: re.Match) -> str | None:
    datepart, sep, tail = m.group(1), m.group(2), m.group(3)
    century = datepart[:2] if len(datepart) == 8 else ""
    yymmdd = datepart[-6:]
    if not _luhn_ok(yymmdd + tail):
        return None
    born = _full_date(century, yymmdd, sep)
    if born is None:
        return None
    return f"{born.year // 100:02d}{yymmdd}{tail}"


@dataclass(frozen=True)
class TestIdentity:
    """One allowlisted test identity. Its repr never shows the number."""

    number: str  # 12 digits
    kind: str  # personnummer | samordningsnummer | reservnummer
    note: str = field(default="", compare=False)

    __test__ = False  # not a pytest test class

    @property
    def birth_date(self) -> date | None:
        """None for a reserve number: it carries no birth date, and none may be guessed from it."""
        if self.kind == "reservnummer":
            return None
        born = _full_date(self.number[:2], self.number[2:8], "")
        assert born is not None
        return born

    @property
    def sex(self) -> str:
        """'F' or 'M' from the second-to-last digit (odd = male), as the EHR must derive it;
        'U' for a reserve number."""
        if self.kind == "reservnummer":
            return "U"
        return "M" if int(self.number[10]) % 2 else "F"

    @property
    def is_coordination_number(self) -> bool:
        return int(self.number[6:8]) > 60

    def ten_digit(self) -> str:
        """YYMMDD-NNNC, with '+' from the year the person turns 100 (a reserve number as it is)."""
        if self.birth_date is None:
            return self.number
        age_sep = "+" if date.today().year - self.birth_date.year >= 100 else "-"
        return f"{self.number[2:8]}{age_sep}{self.number[8:]}"

    def masked(self) -> str:
        return mask_number(self.number)

    def __repr__(self) -> str:
        return f"TestIdentity({self.kind}, {self.masked()})"

    __str__ = __repr__


def mask_number(number: str) -> str:
    digits = re.sub(r"[^0-9]", "", number)
    return digits[:-4] + "****" if len(digits) >= 10 else "****"


class Allowlist:
    """The test identities that may leave the harness."""

    def __init__(self, identities: list[TestIdentity], source: str = ""):
        if not identities:
            raise ConfigError("allowlist holds no identities", file=source or None)
        self.identities = identities
        self.source = source
        self._numbers = {i.number for i in identities}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_ALLOWLIST) -> "Allowlist":
        path = Path(path)
        identities: list[TestIdentity] = []
        try:
            numbered = [(no, ln) for no, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                        if ln.strip() and not ln.lstrip().startswith("#")]
        except FileNotFoundError:
            raise ConfigError("identity allowlist not found", file=str(path)) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
        reader = csv.DictReader(ln for _, ln in numbered)
        if reader.fieldnames is None or "number" not in reader.fieldnames or "kind" not in reader.fieldnames:
            raise ConfigError("header must have columns number,kind[,note]", file=str(path),
                              line=numbered[0][0] if numbered else None)
        for row in reader:
            # reader.line_num counts the (comment-free) lines read so far: map back to the file's line
            line = numbered[reader.line_num - 1][0]
            kind = (row.get("kind") or "").strip()
            if kind not in ("personnummer", "samordningsnummer", "reservnummer"):
                raise ConfigError(f"unknown kind {kind!r}", file=str(path), key="kind", line=line)
            if kind == "reservnummer":
                number = (row["number"] or "").strip()
                if not RESERVE_NUMBER.fullmatch(number):
                    raise ConfigError(f"not a reserve number of the form {RESERVE_NUMBER.pattern}",
                                      file=str(path), key="number", line=line)
            else:
                number = canonical(row["number"] or "")
                if number is None:
                    raise ConfigError("not a valid personnummer/samordningsnummer (format, date or checksum)",
                                      file=str(path), key="number", line=line)
            identities.append(TestIdentity(number, kind, (row.get("note") or "").strip()))
        return cls(identities, str(path))

    def __contains__(self, value: str) -> bool:
        number = canonical(value) or value.strip()
        return number in self._numbers

    def pick(self, index: int = 0, *, kind: str | None = None, min_age: int | None = None) -> TestIdentity:
        """Deterministic choice (index wraps) among identities matching the filters."""
        pool = [i for i in self.identities
                if (i.kind == kind if kind is not None else i.kind != "reservnummer")
                and (min_age is None or (i.birth_date is not None
                                         and date.today().year - i.birth_date.year >= min_age))]
        if not pool:
            raise ConfigError(f"no test identity of kind={kind} min_age={min_age} in the allowlist",
                              file=self.source or None)
        return pool[index % len(pool)]


class IdentityGuard:
    """Scans outbound payloads; refuses any checksum-valid personnummer not on the allowlist."""

    def __init__(self, allowlist: Allowlist):
        self.allowlist = allowlist
        self.checked = 0

    def check(self, payload: str | bytes, *, destination: str = "") -> None:
        text = payload.decode("latin-1") if isinstance(payload, (bytes, bytearray)) else payload
        self.checked += 1
        for m in find_shapes(text):
            number = _canonical_from_match(m)
            if number is not None and number not in self.allowlist._numbers:
                where = f" to {destination}" if destination else ""
                raise IdentityViolation(
                    f"refusing to send{where}: the payload holds a personnummer-shaped value "
                    f"({mask_number(number)}) that is not on the test-identity allowlist "
                    f"({self.allowlist.source}); nothing was sent")


def mask(text: str) -> str:
    """Replace every checksum-valid personnummer-shaped value with its masked form."""
    def repl(m: re.Match) -> str:
        number = _canonical_from_match(m)
        if number is None:
            return m.group(0)
        return m.group(1) + m.group(2) + "****"
    return _SHAPE.sub(repl, text)
