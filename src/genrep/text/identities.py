"""Test identities: only Swedish *test* personnummer from an allowlist ever leave the harness.

The ``personnummer`` package can tell a well-formed number from a malformed one, but not a test
number from a real person's: so identities come only from ``fixtures/identities/*.csv`` (taken from
Skatteverket's published test numbers) and numbers are never generated.

One choke point: every byte the harness sends (MLLP frames, HTTP URLs, headers and bodies, from
steps, load users and fault drivers alike) passes ``guard_outbound`` in the transport layer, which
scans its *decoded meaning* (``identity_scan``: HL7, percent and JSON escapes resolved, Unicode
digits, dashes and spaces folded). Any checksum-valid personnummer-shaped value that is not on the
allowlist is refused before a byte is written, and the refusal **stops the run**: every later
check refuses too (in this process, and through the latch file ``GENREP_IDENTITY_LATCH`` in every
process of the run), so a refused number never fails one scenario while the next one leaks.

``mask`` hides identities (test ones too, in any spelling) in attachments, reports and logs.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from genrep.errors import ConfigError, IdentityViolation
from genrep.paths import FIXTURES_DIR
from genrep.text.identity_scan import (SHAPE, canonical_from_match, find_shapes, full_date, locate, luhn_ok,  # noqa: F401 - find_shapes: importable from here as before
                            mask_spans, needs_decoding, numbers_in, numbers_of)

DEFAULT_ALLOWLIST = FIXTURES_DIR / "identities" / "testpersonnummer.csv"

# A region's reserve numbers (reservnummer) for people without a personnummer/samordningsnummer.
# Their format is each region's own [A]: this one is "99" + 10 digits, as one region uses.
RESERVE_NUMBER = re.compile(r"99[0-9]{10}")

# The shape, the digit-run prefilter and the decoding live in identity_scan (one home); the names
# below keep their old spelling for the modules and tests that use them.
_SHAPE = SHAPE
_luhn_ok = luhn_ok
_full_date = full_date
_canonical_from_match = canonical_from_match


_DIGIT_TO_LETTER = str.maketrans("0123456789", "GHIJKLMNOP")


def run_tag(length: int = 6) -> str:
    """A random tag of capital letters for the ids a run generates (control ids, accessions).

    Letters only, so a tag next to a counter can never make a run of ten digits: a hex tag ending
    in digits, followed by a 6-digit counter, once made an accession the identity guard read as
    a samordningsnummer (and rightly refused to send)."""
    return os.urandom((length + 1) // 2).hex().upper().translate(_DIGIT_TO_LETTER)[:length]


class RunIds:
    """A run tag (``run_tag``), a counter for the ids one process generates and the process id
    (``pid``), all drawn again in a forked child: drawn once at import, every fork (a suite run
    forked by the suite server, a simulator by its launcher, a Locust ``--processes`` worker)
    repeated its parent's ids exactly. Meant for module-level instances (the fork hook keeps the
    instance alive)."""

    def __init__(self):
        self.new()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.new)

    def new(self) -> None:
        self.tag, self._seq, self.pid = run_tag(), itertools.count(1), os.getpid()

    def next(self) -> int:
        return next(self._seq)


def canonical(value: str) -> str | None:
    """12-digit form of a personnummer/samordningsnummer-shaped string, or None if it is not one."""
    m = _SHAPE.fullmatch(value.strip())
    if not m:
        return None
    return _canonical_from_match(m)


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


LATCH_ENV = "GENREP_IDENTITY_LATCH"  # a file: the first refusal of a run, seen by every process of it
_REFUSAL: str | None = None  # the first refusal in this process


class IdentityGuard:
    """Refuses any checksum-valid personnummer not on the allowlist, in any spelling a receiver
    would decode (``identity_scan``). A refusal stops the run: from then on every check in this
    process, and in every process that shares the latch file (``GENREP_IDENTITY_LATCH``: the
    feature suite's xdist workers), refuses whatever it is given, so nothing more is sent."""

    def __init__(self, allowlist: Allowlist):
        self.allowlist = allowlist
        self.checked = 0

    def check(self, payload: str | bytes, *, destination: str = "", kind: str = "",
              sending: bool = False) -> None:
        """Raise ``IdentityViolation`` when ``payload`` holds a refused number, or an earlier check
        of this run refused one. ``kind``: ``"url"`` names URL parts in the message; HL7 and JSON
        are recognised by their content.

        A payload of an immutable type (exactly ``bytes`` or ``str``) that passed is remembered as
        *vetted* (``is_vetted``): the same object checked again against the same allowlist (a
        load user's builder, then the transport's choke point) is not scanned a second time. Any
        other object (a copy, a changed message, a ``bytearray``, a ``memoryview`` or a subclass)
        is scanned in full, and the run's refusal latch is consulted before anything else.

        ``sending`` (the transport's choke point, ``guard_outbound``): the payload leaves now, so it
        is forgotten, not remembered. A vetted payload is held from its vetting until it is sent,
        not until 256 later ones push it out: a load user's 9.7 KB ORUs, each held after it left,
        kept ~2.5 MB cycling through the caches, and building one cost a Locust user ~16 us
        instead of ~4 (genrep bench load, session 13). Sent again, it is scanned again."""
        stop_if_refused()
        allowed = self.allowlist._numbers
        if _vetted_against(payload, allowed):
            if sending:
                _forget_vetted(payload)
            return  # this very immutable object passed a moment ago (a client's check, then its transport's)
        if isinstance(payload, (bytes, bytearray, memoryview)):
            raw = bytes(payload)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
        else:
            text = payload
        self.checked += 1
        if needs_decoding(text):
            refused = {n for n in numbers_in(text) if n not in allowed}
        else:
            refused = numbers_of(text) - allowed
        if refused:
            findings = locate(text, refused, kind=kind)
            if findings:
                first = findings[0]
                spelled = "" if first.view == "as written" else f", spelled so that it shows only once {first.view}"
                where = f" to {destination}" if destination else ""
                more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
                message = (f"refusing to send{where}: {first.where} holds a personnummer-shaped value "
                           f"({mask_number(first.number)}{spelled}) that is not on the test-identity allowlist "
                           f"({self.allowlist.source}){more}; nothing was sent, and this run sends nothing more")
                record_refusal(message)
                raise IdentityViolation(message)
        if not sending:
            _remember_vetted(payload, allowed)


# Vetted payloads: the objects a guard passed, by identity, each with a snapshot of the allowlist it
# passed. Only exactly ``bytes`` and ``str`` (immutable: the bytes that were scanned are the bytes
# that will be sent; a bytearray or memoryview could change after its check, a subclass could be
# anything). The entry holds the object itself, so its id cannot be reused while it is remembered.
# Bounded (count and size; payloads under 128 characters are not kept): the oldest is forgotten first (then
# it is simply scanned again). A load user builds a
# message and sends it a moment later; other users' messages may be built in between under gevent.
# The transport's choke point forgets what it lets out (``IdentityGuard.check``'s ``sending``), so
# in a load run the memo holds only what was built and has not left yet.
_VETTED_KEPT = 256
_VETTED_MIN_LEN = 128  # shorter payloads (URLs, headers) are not remembered (their scan is a few microseconds)
_VETTED_MAX_HELD = 16 * 1024 * 1024  # characters or bytes held in all (the oldest go first)
_VETTED_HELD = 0
_VETTED: dict[int, tuple[object, frozenset[str]]] = {}
_SNAPSHOT: tuple[set[str], frozenset[str]] | None = None  # the last allowlist set and its snapshot


def _snapshot(allowed: set[str]) -> frozenset[str]:
    global _SNAPSHOT
    last = _SNAPSHOT
    if last is not None and last[0] is allowed and last[1] == allowed:
        return last[1]
    frozen = frozenset(allowed)
    _SNAPSHOT = (allowed, frozen)
    return frozen


def _remember_vetted(payload: object, allowed: set[str]) -> None:
    global _VETTED_HELD
    if type(payload) is not bytes and type(payload) is not str:
        return
    size = len(payload)
    if size < _VETTED_MIN_LEN:
        return                     # a URL or a header: scanning it again costs less than remembering it
    vetted = _VETTED
    try:
        _forget_vetted(payload)
        while vetted and (len(vetted) >= _VETTED_KEPT or _VETTED_HELD + size > _VETTED_MAX_HELD):
            _VETTED_HELD -= len(vetted.pop(next(iter(vetted)))[0])
    except (RuntimeError, StopIteration, KeyError):  # another thread changed it meanwhile: start afresh
        vetted.clear()
        _VETTED_HELD = 0
    if size <= _VETTED_MAX_HELD:
        vetted[id(payload)] = (payload, _snapshot(allowed))
        _VETTED_HELD += size


def _forget_vetted(payload: object) -> None:
    global _VETTED_HELD
    entry = _VETTED.pop(id(payload), None)
    if entry is not None:
        _VETTED_HELD -= len(entry[0])


def _vetted_against(payload: object, allowed: set[str]) -> bool:
    """Whether this very object (exactly bytes or str) passed a guard whose allowlist was the
    same set of numbers as ``allowed``."""
    entry = _VETTED.get(id(payload))
    return entry is not None and entry[0] is payload and entry[1] == allowed


def is_vetted(payload: object, allowlist: Allowlist | None = None) -> bool:
    """Whether ``payload`` is an immutable object that passed an identity guard (with
    ``allowlist``'s numbers, when given; the transport guard's otherwise). Tests and diagnostics."""
    allowed = (allowlist or outbound_guard().allowlist)._numbers
    return _vetted_against(payload, allowed)


def forget_vetted() -> None:
    """Forget every vetted payload (tests: each starts from nothing vetted)."""
    global _VETTED_HELD
    _VETTED.clear()
    _VETTED_HELD = 0


def record_refusal(message: str) -> None:
    """Remember the first refusal of the run (in this process, and in the latch file if the run has
    one), so that every later check refuses too."""
    global _REFUSAL
    if _REFUSAL is None:
        _REFUSAL = message
    latch = _latch_path()
    if latch and not os.path.exists(latch):
        try:
            with open(latch, "x", encoding="utf-8") as fh:
                fh.write(message + "\n")
        except OSError:
            pass  # another process wrote it first, or the folder is gone: the process latch still holds


# ``os.environ.get`` of an unset variable costs ~1.5 us here (it raises and catches KeyError), and
# the latch is asked before every message a load user sends. ``os.environ`` keeps its values in
# ``_data`` (encoded keys): a lookup there reads the same live store, changed by every
# ``os.environ[...] =``/``del``/``putenv`` through os.environ, in ~0.1 us. Anything else (a replaced
# ``os.environ``, a platform without ``_data``) reads ``os.environ.get``.
_ENVIRON = os.environ
_ENV_DATA = getattr(_ENVIRON, "_data", None)
try:
    _LATCH_KEY = _ENVIRON.encodekey(LATCH_ENV)  # type: ignore[attr-defined]
except (AttributeError, TypeError, ValueError):
    _ENV_DATA = None


def _latch_path() -> str | None:
    """``os.environ.get(LATCH_ENV)``, read from os.environ's own store when it is the same object."""
    environ = os.environ
    if environ is _ENVIRON and type(_ENV_DATA) is dict:
        raw = _ENV_DATA.get(_LATCH_KEY)
        return None if raw is None else _ENVIRON.decodevalue(raw)  # type: ignore[attr-defined]
    return environ.get(LATCH_ENV)


def refusal() -> str | None:
    """The run's first identity refusal (this process or the latch file), or None."""
    if _REFUSAL is not None:
        return _REFUSAL
    latch = _latch_path()
    if latch and os.path.exists(latch):
        try:
            with open(latch, encoding="utf-8") as fh:
                return fh.read().strip() or "an identity was refused earlier in this run"
        except OSError:
            return "an identity was refused earlier in this run"
    return None


def stop_if_refused() -> None:
    """Raise ``IdentityViolation`` if this run has refused an identity: nothing more is sent."""
    earlier = refusal()
    if earlier is not None:
        raise IdentityViolation(f"nothing more is sent in this run after an identity refusal: {earlier}")


def reset_refusals() -> None:
    """Forget the process latch (tests only: a real run ends at its first refusal)."""
    global _REFUSAL
    _REFUSAL = None


_OUTBOUND: IdentityGuard | None = None


def outbound_guard() -> IdentityGuard:
    """The process's guard at the transports (MLLP, HTTP): the default allowlist unless a guard was
    installed. Loaded on first use."""
    global _OUTBOUND
    if _OUTBOUND is None:
        _OUTBOUND = IdentityGuard(Allowlist.load())
    return _OUTBOUND


def install_outbound_guard(guard: IdentityGuard | None) -> None:
    """Use ``guard`` at the transports (None: back to the default allowlist)."""
    global _OUTBOUND
    _OUTBOUND = guard


def guard_outbound(payload: str | bytes, *, destination: str, kind: str = "") -> None:
    """The one choke point: every byte the harness sends passes here before it is written (and a
    vetted payload is forgotten here: ``IdentityGuard.check``'s ``sending``)."""
    outbound_guard().check(payload, destination=destination, kind=kind, sending=True)


def mask(text: str) -> str:
    """Every checksum-valid personnummer-shaped value, allowlisted or not and in any spelling
    (HL7 or percent escapes, Unicode digits, dashes and spaces), with its last four digits masked."""
    spans = mask_spans(text)
    if not spans:
        return text
    out = []
    pos = 0
    for a, b, masked in spans:
        out.append(text[pos:a])
        out.append(masked)
        pos = b
    out.append(text[pos:])
    return "".join(out)
