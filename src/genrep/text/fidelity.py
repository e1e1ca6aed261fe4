"""Text fidelity: did the report text that was sent arrive, word for word, in the EHR?

Why this module exists
----------------------
In 2024 radiology reports lost text between the radiology system and the EHR: reports were cut
off, lines were dropped, line breaks disappeared so that words ran together, and words vanished,
among them the Swedish negations "ingen"/"inga" ("no"/"none"). An application ACK (MSA-1 = AA)
only says the receiver accepted the message, not that it stored the text: systems have answered AA
and stored nothing or a truncated text. The harness therefore always reads the stored text back and
compares it with what was sent. This module is that comparison.

Design rules
------------
* Compare decoded, normalised text, never raw bytes. Parsers disagree on HL7 escapes and on line
  conventions (one OBX per line, ``~`` repetitions, FT ``\\.br\\``); after decoding, a report is a
  sequence of lines. Differences that do not change what a clinician reads (CRLF vs LF, NFC vs NFD,
  trailing spaces that HL7 TX says "should be removed", trailing empty lines) are normalised away
  according to :class:`TextRules`, which a contract can tune.
* When the texts differ, say *how*, in words a tester understands, quoting the affected text:
  truncation, missing lines, lines run together, lost words, garbled characters (mojibake), ...
* A lost negation word is the worst loss: "Ingen fraktur." becoming "fraktur." reverses a finding.
  Negation tokens are counted separately and their loss is always reported as ``critical``,
  whatever else went wrong.
* Stay fast on large reports (64 KiB+, 1,000+ lines): line-level ``SequenceMatcher`` only;
  character-level matching is used on single short lines, never on whole texts.

Standard library only.
"""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "NEGATION_WORDS",
    "KINDS",
    "SEVERITIES",
    "TextRules",
    "Finding",
    "FidelityResult",
    "normalise",
    "compare",
]

NEGATION_WORDS: tuple[str, ...] = (
    "ingen", "inga", "inget", "ej", "inte", "utan", "icke", "no", "not", "without",
)

#: Every finding kind with its severity, in report order (most specific / most severe first).
KINDS: dict[str, str] = {
    "lost_negation": "critical",
    "empty": "high",
    "truncated": "high",
    "mojibake": "high",
    "combining_marks_lost": "high",
    "line_breaks_lost": "high",
    "merged_words": "high",
    "line_breaks_added": "medium",
    "split_words": "high",
    "reordered_lines": "high",
    "missing_lines": "high",
    "extra_lines": "medium",
    "lost_words": "high",
    "added_words": "medium",
    "changed_text": "high",
    "whitespace_changed": "low",
    "unicode_normalisation": "low",
}

#: Severity rank, higher is worse.
SEVERITIES: dict[str, int] = {"critical": 3, "high": 2, "medium": 1, "low": 0}

_KIND_ORDER = {kind: n for n, kind in enumerate(KINDS)}
_UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029]")
_PROTECTED_TRAILING = "\r\n\u2028\u2029"  # never stripped as "trailing whitespace"
_WS = re.compile(r"\s+")
_HSPACE_RUN = re.compile(r"[^\S\n]+")
_SEGMENT = re.compile(r"\n|[^\s]+")
_WORD = re.compile(r"[\w\u0300-\u036f]+")
_NEG_TOKEN = re.compile(r"\w+")
_QUOTE_WIDTH = 80

# UTF-8 bytes decoded as Latin-1 / Windows-1252: a lead byte C2..F4 (shown as Â..ô) followed by
# continuation bytes 80..BF (shown as C1 controls, Latin-1 80..BF or their cp1252 glyphs).
_CP1252_HIGH = (
    "\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d"
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
)
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf" + _CP1252_HIGH + "]{1,3}")
_C1 = re.compile("[\u0080-\u009f]")
_KNOWN_LIMITS = (200, 255, 256, 1000, 1024, 2000, 2048, 4000, 4096, 8000, 8192, 16383, 16384,
                 32767, 32768, 65535, 65536, 99999, 100000)


# --------------------------------------------------------------------------------------------
# Rules and normalisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextRules:
    """What counts as "the same text". Defaults follow HL7 TX/FT semantics."""

    line_endings: bool = True  # \r\n, \r, U+2028, U+2029 -> \n before comparing
    unicode_form: str | None = "NFC"  # normalise both sides to this form (None = compare raw)
    strip_trailing_whitespace: bool = True  # HL7 TX: trailing spaces "should be removed"
    strip_trailing_blank_lines: bool = True  # trailing empty lines at the very end are not content
    negation_words: tuple[str, ...] = NEGATION_WORDS

    def __post_init__(self) -> None:
        for name in ("line_endings", "strip_trailing_whitespace", "strip_trailing_blank_lines"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"text rule '{name}' must be true or false, "
                                 f"got {getattr(self, name)!r}")
        form = self.unicode_form
        if form is not None:
            if not isinstance(form, str) or form.upper() not in _UNICODE_FORMS:
                raise ValueError(f"text rule 'unicode_form' must be one of "
                                 f"{', '.join(_UNICODE_FORMS)} or null, got {form!r}")
            object.__setattr__(self, "unicode_form", form.upper())
        words = self.negation_words
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"text rule 'negation_words' must be a list of words, got {words!r}")
        cleaned = tuple(w.strip().casefold() for w in words)
        for w in cleaned:
            if not re.fullmatch(r"\w+", w):
                raise ValueError(f"text rule 'negation_words': {w!r} is not a single word")
        object.__setattr__(self, "negation_words", cleaned)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> TextRules:
        """Build from a contract YAML mapping; unknown keys raise ``ValueError`` naming the key."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"text rules must be a mapping, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown text rule '{key}' (known: {', '.join(known)})")
            if key == "negation_words":
                if isinstance(value, str) or not isinstance(value, (list, tuple)):
                    raise ValueError(f"text rule 'negation_words' must be a list of words, "
                                     f"got {value!r}")
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)


def _rstrip_line(line: str) -> str:
    stripped = line.rstrip()
    if len(stripped) == len(line):
        return line
    tail = line[len(stripped):]
    keep = max(tail.rfind(c) for c in _PROTECTED_TRAILING)
    return stripped if keep < 0 else line[: len(stripped) + keep + 1]


def normalise(text: str, rules: TextRules) -> str:
    """Apply ``rules`` to ``text``: the form in which sent and stored texts are compared."""
    if rules.line_endings:
        text = _LINE_BREAKS.sub("\n", text)
    if rules.unicode_form:
        text = unicodedata.normalize(rules.unicode_form, text)
    if rules.strip_trailing_whitespace or rules.strip_trailing_blank_lines:
        lines = text.split("\n")
        if rules.strip_trailing_whitespace:
            lines = [_rstrip_line(line) for line in lines]
        if rules.strip_trailing_blank_lines:
            while lines and (lines[-1] == "" or lines[-1].isspace()):
                lines.pop()
        text = "\n".join(lines)
    return text


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One way in which the stored text differs from the sent text."""

    kind: str
    severity: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class FidelityResult:
    """Outcome of :func:`compare`. ``ok`` is True iff the normalised texts are equal."""

    ok: bool
    findings: list[Finding]
    sent: str
    stored: str
    rules: TextRules = field(default_factory=TextRules, repr=False)

    @property
    def severity(self) -> str | None:
        if self.ok or not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: SEVERITIES.get(s, -1))

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def summary(self) -> str:
        if self.ok:
            text = normalise(self.sent, self.rules)
            return (f"Report text stored intact ({_count_lines(text)} lines, "
                    f"{len(text)} characters)")
        lines = [f"Report text differs: {', '.join(self.kinds)}"]
        lines += [f"- [{f.kind}/{f.severity}] {f.message}" for f in self.findings]
        return "\n".join(lines)

    def diff(self) -> str:
        a = normalise(self.sent, self.rules).split("\n")
        b = normalise(self.stored, self.rules).split("\n")
        return "\n".join(difflib.unified_diff(a, b, fromfile="sent", tofile="stored",
                                              lineterm=""))


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _count_lines(text: str) -> int:
    return 0 if text == "" else text.count("\n") + 1


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _visible(text: str) -> str:
    """Make invisible whitespace visible for a tester."""
    text = text.replace("\t", "<TAB>").replace("\u00a0", "<NBSP>").replace("\u00ad", "<SHY>")
    return _C1.sub(lambda m: "<U+%04X>" % ord(m.group()), text)


def _q(text: str, width: int = _QUOTE_WIDTH) -> str:
    """Quote ``text`` for a message, shortened to about ``width`` characters."""
    if text == "":
        return "(blank line)"
    text = _visible(text).replace("\n", " / ")
    if len(text) > width:
        text = text[: width - 3] + "..."
    return f'"{text}"'


def _q_tail(text: str, width: int = 60) -> str:
    text = _visible(text).replace("\n", " / ")
    if len(text) > width:
        text = "..." + text[-(width - 3):]
    return f'"{text}"'


def _nows(text: str) -> str:
    return _WS.sub("", text)


def _words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text))


def _common_prefix_len(x: str, y: str) -> int:
    lo, hi = 0, min(len(x), len(y))
    if x[:hi] == y[:hi]:
        return hi
    while lo < hi:  # invariant: x[:lo] == y[:lo], x[:hi+1] != y[:hi+1] somewhere
        mid = (lo + hi + 1) // 2
        if x[:mid] == y[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _base_and_marks(word: str) -> tuple[str, int]:
    d = unicodedata.normalize("NFD", word)
    base = "".join(c for c in d if not unicodedata.combining(c))
    return base, len(d) - len(base)


def _count_marks(text: str) -> int:
    return sum(1 for c in unicodedata.normalize("NFD", text) if "\u0300" <= c <= "\u036f")


def _line_score(x: str, y: str) -> float:
    """Similarity of two lines in [0, 1]; cheap for long lines."""
    if x == y:
        return 1.0
    if not x or not y:
        return 0.0
    if len(x) + len(y) <= 1000:
        if _quick_score(x, y) < 0.5:
            return 0.0
        return difflib.SequenceMatcher(None, x, y, autojunk=False).ratio()
    wx, wy = _words(x), _words(y)
    total = sum(wx.values()) + sum(wy.values())
    return 2 * sum((wx & wy).values()) / total if total else 0.0


def _quick_score(x: str, y: str) -> float:
    """Upper bound of :func:`_line_score` computed from character counts only (linear)."""
    if not x or not y:
        return 1.0 if x == y else 0.0
    cx, cy = Counter(x), Counter(y)
    return 2 * sum((cx & cy).values()) / (len(x) + len(y))


def _char_opcodes(x: str, y: str, limit: int = 4000) -> list[tuple[str, int, int, int, int]]:
    """Character opcodes for two lines; the common prefix and suffix are trimmed first so that a
    long line with one local change stays cheap."""
    p = _common_prefix_len(x, y)
    q = _common_prefix_len(x[p:][::-1], y[p:][::-1])
    xe, ye = len(x) - q, len(y) - q
    ops: list[tuple[str, int, int, int, int]] = []
    if p:
        ops.append(("equal", 0, p, 0, p))
    if xe - p + ye - p <= limit:
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
                None, x[p:xe], y[p:ye], autojunk=False).get_opcodes():
            ops.append((tag, i1 + p, i2 + p, j1 + p, j2 + p))
    elif xe > p or ye > p:
        ops.append(("replace", p, xe, p, ye))
    if q:
        ops.append(("equal", xe, len(x), ye, len(y)))
    return ops


def _map_pos(opcodes: list[tuple[str, int, int, int, int]], pos: int, end: bool) -> int:
    for tag, i1, i2, j1, j2 in opcodes:
        if i1 <= pos < i2 or (end and pos == i2 and i1 < i2):
            if tag == "equal":
                return j1 + (pos - i1)
            return j2 if end else j1
    return opcodes[-1][4] if opcodes else 0


def _line_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Line-level opcodes. Exact (autojunk off) unless many repeated lines (blank lines,
    "Normal." ...) would make SequenceMatcher quadratic; then popular lines are treated as junk."""
    ca, cb = Counter(a), Counter(b)
    work = sum(n * cb[line] for line, n in ca.items() if n > 1 and line in cb)
    return difflib.SequenceMatcher(None, a, b, autojunk=work > 200_000).get_opcodes()


def _mojibake_repair(seq: str) -> tuple[str, str] | None:
    """``(garbled, original)`` for the leading garbled sequence in ``seq``, or None."""
    raw = bytearray()
    for c in seq:
        try:
            raw += c.encode("cp1252")
        except UnicodeEncodeError:
            if ord(c) > 0xFF:
                return None
            raw.append(ord(c))
    lead = raw[0]
    need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    if len(raw) < need:
        return None
    try:
        original = bytes(raw[:need]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return seq[:need], original


def _c1_repair(char: str) -> str | None:
    try:
        return bytes([ord(char)]).decode("cp1252")
    except UnicodeDecodeError:
        return None


def _token_at(text: str, pos: int) -> str:
    start = pos
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


@dataclass
class _Acc:
    """Accumulated observations from the line/block analysis (1-based line numbers)."""

    lb_lost: list[dict] = field(default_factory=list)
    lb_added: list[dict] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)
    splits: list[dict] = field(default_factory=list)
    ws_lines: list[tuple[int, int]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    moved: list[tuple[int, int]] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)


class _Analysis:
    def __init__(self, sent: str, stored: str, rules: TextRules):
        self.rules = rules
        self.sent_raw, self.stored_raw = sent, stored
        self.raw_differs_in_form = False
        if rules.unicode_form in (None, "NFD", "NFKD"):
            # Classify on composed text (tokens, mojibake patterns and quotes read naturally).
            s, t = unicodedata.normalize("NFC", sent), unicodedata.normalize("NFC", stored)
            self.raw_differs_in_form = rules.unicode_form is None and (s != sent or t != stored)
        else:
            s, t = sent, stored
        self.s, self.t = s, t
        self.a = s.split("\n")
        self.b = t.split("\n")
        self.acc = _Acc()
        self._ops: list[tuple[str, int, int, int, int]] | None = None

    # -- shared -----------------------------------------------------------------------------

    def opcodes(self) -> list[tuple[str, int, int, int, int]]:
        if self._ops is None:
            self._ops = _line_opcodes(self.a, self.b)
        return self._ops

    def run(self) -> list[Finding]:
        findings: list[Finding] = []
        neg = self._negation()
        if neg:
            findings.append(neg)
        findings += self._classify()
        if not [f for f in findings if f.kind != "lost_negation"] and self.s != self.t:
            if not findings:
                findings.append(self._generic_change())
        findings.sort(key=lambda f: _KIND_ORDER.get(f.kind, len(_KIND_ORDER)))
        return findings

    def _classify(self) -> list[Finding]:
        s, t = self.s, self.t
        if s == t:  # only the Unicode form differs (unicode_form None)
            return [self._unicode_form_finding()]
        if t.strip() == "":
            return [self._empty()] if s.strip() else [self._generic_change()]
        trunc = self._truncation()
        if trunc:
            return [trunc]
        out: list[Finding] = []
        if _nows(s) == _nows(t):
            self._structure(list(range(len(self.a))), list(range(len(self.b))))
        elif (unicodedata.normalize("NFD", _nows(s)) == unicodedata.normalize("NFD", _nows(t))):
            out += self._structure_by_count()
        else:
            self._lines()
            out += self._words_and_chars()
        out += self._findings_from_acc()
        if self.raw_differs_in_form:
            out.append(self._unicode_form_finding(also=True))
        return out

    # -- negation ---------------------------------------------------------------------------

    def _neg_counts(self, text: str) -> Counter[str]:
        negs = set(self.rules.negation_words)
        return Counter(tok for tok in _NEG_TOKEN.findall(text.casefold()) if tok in negs)

    def _negation(self) -> Finding | None:
        cs, ct = self._neg_counts(self.s), self._neg_counts(self.t)
        lost = {w: (cs[w], ct.get(w, 0)) for w in cs if ct.get(w, 0) < cs[w]}
        if not lost:
            return None
        ctx = self._negation_context(set(lost))
        order = [w for w in self.rules.negation_words if w in lost]
        if ctx and ctx["word"] in order:
            order.remove(ctx["word"])
            order.insert(0, ctx["word"])
        parts = [f'"{w}" appears {_plural(lost[w][0], "time")} in the sent text, '
                 f'{_plural(lost[w][1], "time")} in the stored text' for w in order]
        msg = "Negation lost: " + "; ".join(parts) + ": a finding may now read as its opposite"
        if ctx:
            if ctx["stored"] is not None:
                msg += f' ({_q(ctx["sent"])} -> {_q(ctx["stored"]) if ctx["stored"] else "(nothing)"}'
                msg += f', sent line {ctx["sent_line"]})'
            else:
                msg += f' ({_q(ctx["sent"])}, sent line {ctx["sent_line"]}, is not in the stored text)'
        details = {
            "words": {w: {"sent": lost[w][0], "stored": lost[w][1]} for w in order},
            "lost": {w: lost[w][0] - lost[w][1] for w in order},
            "total_lost": sum(lost[w][0] - lost[w][1] for w in order),
            "sent_line": ctx["sent_line"] if ctx else None,
            "stored_line": ctx["stored_line"] if ctx else None,
        }
        return Finding("lost_negation", KINDS["lost_negation"], _end(msg), details)

    def _negation_context(self, lost: set[str]) -> dict | None:
        for tag, i1, i2, j1, j2 in self.opcodes():
            if tag == "equal":
                continue
            cs = self._neg_counts("\n".join(self.a[i1:i2]))
            ct = self._neg_counts("\n".join(self.b[j1:j2]))
            dropped = [w for w in lost if cs[w] > ct[w]]
            if not dropped:
                continue
            for i in range(i1, i2):
                line = self.a[i]
                hits = [m for m in _NEG_TOKEN.finditer(line) if m.group().casefold() in dropped]
                if not hits:
                    continue
                best_j, best = None, 0.3
                for j in range(j1, min(j2, j1 + 200)):
                    score = _line_score(line, self.b[j])
                    if score > best:
                        best_j, best = j, score
                return self._negation_snippet(line, hits, best_j, i)
        return None

    def _negation_snippet(self, line: str, hits: list[re.Match], j: int | None,
                          i: int) -> dict:
        stored_line = self.b[j] if j is not None else None
        char_ops = _char_opcodes(line, stored_line) if stored_line is not None else None
        hit = hits[0]
        if char_ops:
            for m in hits:  # prefer an occurrence inside a changed region
                if any(tag != "equal" and i1 < m.end() and m.start() < i2
                       for tag, i1, i2, _, _ in char_ops):
                    hit = m
                    break
        words = list(_NEG_TOKEN.finditer(line))
        k = next(n for n, m in enumerate(words) if m.start() == hit.start())
        start = words[max(0, k - 2)].start()
        end = words[min(len(words) - 1, k + 2)].end()
        if k + 2 >= len(words) - 1:
            end = len(line)
        if k - 2 <= 0:
            start = 0
        sent_snip = ("..." if start > 0 else "") + line[start:end] + ("..." if end < len(line) else "")
        stored_snip: str | None = None
        if stored_line is not None:
            if char_ops is not None:
                js, je = _map_pos(char_ops, start, False), _map_pos(char_ops, end, True)
                while js > 0 and not stored_line[js - 1].isspace():
                    js -= 1
                while je < len(stored_line) and not stored_line[je].isspace():
                    je += 1
                body = stored_line[js:je]
                stored_snip = (("..." if js > 0 else "") + body
                               + ("..." if je < len(stored_line) else "")) if body else ""
            else:
                stored_snip = stored_line
        return {"word": hit.group().casefold(), "sent": sent_snip, "stored": stored_snip,
                "sent_line": i + 1, "stored_line": (j + 1) if j is not None else None}

    # -- whole-text shapes ------------------------------------------------------------------

    def _empty(self) -> Finding:
        n = len(self.s)
        msg = (f"Stored text is empty: the sent text had {n} characters "
               f"({_plural(len(self.a), 'line')}) and nothing of it was stored")
        return Finding("empty", KINDS["empty"], _end(msg),
                       {"sent_length": n, "sent_lines": len(self.a), "stored_length": 0})

    def _truncation(self) -> Finding | None:
        s, t = self.s, self.t
        if not t or len(t) > len(s):
            return None
        k = _common_prefix_len(s, t)
        if k < len(t):
            # A cut inside a character plus combining marks (e.g. "a" + ring, or Hangul jamo)
            # changes the composed last character: compare decomposed forms.
            if len(t) - k > 4:
                return None
            ds = unicodedata.normalize("NFD", s[k - 8 if k > 8 else 0:])
            dt = unicodedata.normalize("NFD", t[k - 8 if k > 8 else 0:])
            p = _common_prefix_len(ds, dt)
            if len(dt) >= len(ds) or any(unicodedata.combining(c) == 0 for c in dt[p:]):
                return None
        elif len(t) == len(s):
            return None
        at, total = len(t), len(s)
        lost = total - at
        n_t = len(self.b)
        partial = n_t - 1 < len(self.a) and self.b[-1] != self.a[n_t - 1]
        lost_lines = len(self.a) - n_t + (1 if partial else 0)
        mid_word = 0 < at < total and (s[at - 1].isalnum() and s[at].isalnum())
        msg = (f"Text truncated at character {at} of {total}: the last {lost} characters "
               f"({_plural(lost_lines, 'line')}) are missing; the stored text ends with "
               f"{_q_tail(t)}")
        if mid_word:
            word = _token_at(s, at - 1)
            msg += f" (cut in the middle of {_q(word)})"
        nbytes = len(t.encode("utf-8"))
        limit = next((lim for lim in _KNOWN_LIMITS
                      if lim - 3 <= nbytes <= lim or at == lim), None)
        if limit is not None:
            msg += (f"; {at} characters / {nbytes} UTF-8 bytes is at a typical field limit "
                    f"({limit}), count characters, not bytes")
        details = {"at": at, "sent_length": total, "lost_characters": lost,
                   "lost_lines": lost_lines, "mid_word": mid_word, "stored_utf8_bytes": nbytes,
                   "sent_lines": len(self.a), "stored_lines": n_t, "suspected_limit": limit}
        return Finding("truncated", KINDS["truncated"], _end(msg), details)

    def _unicode_form_finding(self, also: bool = False) -> Finding:
        def form(x: str) -> str:
            for f in ("NFC", "NFD"):
                if unicodedata.is_normalized(f, x):
                    return f
            return "mixed"

        sent_form, stored_form = form(self.sent_raw), form(self.stored_raw)
        msg = (f"Same letters in a different Unicode form (sent {sent_form}, stored "
               f"{stored_form}; e.g. \"å\" as one character or as \"a\" plus a combining ring): "
               f"it reads the same, but exact comparison and search can fail")
        return Finding("unicode_normalisation", KINDS["unicode_normalisation"], _end(msg),
                       {"sent_form": sent_form, "stored_form": stored_form})

    # -- structure: same non-whitespace content ---------------------------------------------

    @staticmethod
    def _segments(text: str) -> tuple[list[tuple[int, int, str, int]], list[tuple[int, int]]]:
        toks: list[tuple[int, int, str, int]] = []
        nls: list[tuple[int, int]] = []
        pos, line = 0, 0
        for m in _SEGMENT.finditer(text):
            g = m.group()
            if g == "\n":
                nls.append((pos, line))
                line += 1
            else:
                toks.append((pos, pos + len(g), g, line))
                pos += len(g)
        return toks, nls

    def _structure(self, ia: list[int], ib: list[int]) -> None:
        """Analyse sent lines ``ia`` vs stored lines ``ib`` whose non-whitespace text is equal."""
        acc = self.acc
        ta, na = self._segments("\n".join(self.a[i] for i in ia))
        tb, nb = self._segments("\n".join(self.b[j] for j in ib))
        a_starts = [x[0] for x in ta]
        b_starts = [x[0] for x in tb]
        nb_offsets = sorted(o for o, _ in nb)

        def merged(tokens, starts_other, other_tokens, idx_self, idx_other):
            out = []
            for s0, e0, tok, line in tokens:
                lo = bisect.bisect_right(starts_other, s0)
                hi = bisect.bisect_left(starts_other, e0)
                if hi > lo:  # a boundary of the other side lies strictly inside this token
                    first = max(lo - 1, 0)
                    parts = other_tokens[first:hi]
                    out.append({"joined": tok, "line": idx_self[line] + 1,
                                "parts": [p[2] for p in parts],
                                "part_lines": sorted({idx_other[p[3]] + 1 for p in parts})})
            return out

        merges_here = False
        for m in merged(tb, a_starts, ta, ib, ia):
            merges_here = True
            acc.merges.append({"stored": m["joined"], "stored_line": m["line"],
                               "sent": m["parts"], "sent_lines": m["part_lines"],
                               "across_lines": len(m["part_lines"]) > 1})
        for m in merged(ta, b_starts, tb, ia, ib):
            merges_here = True
            acc.splits.append({"sent": m["joined"], "sent_line": m["line"],
                               "stored": m["parts"], "stored_lines": m["part_lines"]})

        ca = Counter(o for o, _ in na)
        cb = Counter(o for o, _ in nb)
        lost, added = ca - cb, cb - ca
        na_offsets = sorted(o for o, _ in na)
        for o, n in sorted(lost.items()):
            lines = [ln for off, ln in na if off == o][-n:]
            stored_line = bisect.bisect_right(nb_offsets, o)  # 0-based local
            for ln in lines:
                acc.lb_lost.append({"sent_line": ia[ln] + 1,
                                    "stored_line": ib[min(stored_line, len(ib) - 1)] + 1})
        for o, n in sorted(added.items()):
            lines = [ln for off, ln in nb if off == o][-n:]
            sent_line = bisect.bisect_right(na_offsets, o)
            for ln in lines:
                acc.lb_added.append({"stored_line": ib[ln] + 1,
                                     "sent_line": ia[min(sent_line, len(ia) - 1)] + 1})
        if not lost and not added and not merges_here and len(ia) == len(ib):
            for i, j in zip(ia, ib):
                if self.a[i] != self.b[j]:
                    acc.ws_lines.append((i + 1, j + 1))

    def _structure_by_count(self) -> list[Finding]:
        """Canonically equal once whitespace is removed, but a combining mark now joins a
        different character: only line counts are reliable here."""
        na, nb = self.s.count("\n"), self.t.count("\n")
        if na > nb:
            return [Finding("line_breaks_lost", KINDS["line_breaks_lost"],
                            f"Line breaks lost: the sent text has {_plural(len(self.a), 'line')}, "
                            f"the stored text {len(self.b)}; lines ran together.",
                            {"sent_lines": len(self.a), "stored_lines": len(self.b),
                             "lost": na - nb, "joined": []})]
        if nb > na:
            return [Finding("line_breaks_added", KINDS["line_breaks_added"],
                            f"Line breaks added: the sent text has {_plural(len(self.a), 'line')}, "
                            f"the stored text {len(self.b)}; lines were split.",
                            {"sent_lines": len(self.a), "stored_lines": len(self.b),
                             "added": nb - na, "split": []})]
        return [self._generic_change()]

    # -- general: line diff -----------------------------------------------------------------

    def _lines(self) -> None:
        acc, a, b = self.acc, self.a, self.b
        blocks = [op for op in self.opcodes() if op[0] != "equal"]
        # Lines present on both sides but in another place: moved, not lost.
        stored_pool: dict[str, list[int]] = {}
        for _, _, _, j1, j2 in blocks:
            for j in range(j1, j2):
                if b[j].strip():
                    stored_pool.setdefault(b[j], []).append(j)
        moved_a: set[int] = set()
        moved_b: set[int] = set()
        for _, i1, i2, _, _ in blocks:
            for i in range(i1, i2):
                pool = stored_pool.get(a[i])
                if pool:
                    j = pool.pop(0)
                    moved_a.add(i)
                    moved_b.add(j)
                    acc.moved.append((i + 1, j + 1))
        for _, i1, i2, j1, j2 in blocks:
            sa = [i for i in range(i1, i2) if i not in moved_a]
            sb = [j for j in range(j1, j2) if j not in moved_b]
            if not sb:
                acc.missing += [i + 1 for i in sa]
            elif not sa:
                acc.extra += [j + 1 for j in sb]
            elif _nows("".join(a[i] for i in sa)) == _nows("".join(b[j] for j in sb)):
                self._structure(sa, sb)
            else:
                self._pair(sa, sb)

    def _pair(self, sa: list[int], sb: list[int]) -> None:
        acc, a, b = self.acc, self.a, self.b
        if len(sa) == 1 and len(sb) == 1:
            acc.pairs.append((sa[0], sb[0]))
            return
        if len(sa) * len(sb) > 40_000:  # huge rewrite: pair by position, rest missing/extra
            n = min(len(sa), len(sb))
            acc.pairs += list(zip(sa[:n], sb[:n]))
            acc.missing += [i + 1 for i in sa[n:]]
            acc.extra += [j + 1 for j in sb[n:]]
            return
        if len(sa) == len(sb) and all(
                _quick_score(a[i], b[j]) >= 0.5 for i, j in zip(sa, sb)):
            for i, j in zip(sa, sb):
                if _nows(a[i]) == _nows(b[j]):
                    self._structure([i], [j])
                else:
                    acc.pairs.append((i, j))
            return
        p, q = 0, 0
        while p < len(sa) and q < len(sb):
            # Lines run together / split within the block?
            group = self._group_at(sa, sb, p, q)
            if group:
                ga, gb = group
                self._structure(sa[p:p + ga], sb[q:q + gb])
                p, q = p + ga, q + gb
                continue
            found = None
            for k in range(q, min(len(sb), q + 50)):
                if _line_score(a[sa[p]], b[sb[k]]) >= 0.5:
                    found = k
                    break
            if found is None:
                acc.missing.append(sa[p] + 1)
                p += 1
                continue
            acc.extra += [sb[k] + 1 for k in range(q, found)]
            i, j = sa[p], sb[found]
            if _nows(a[i]) == _nows(b[j]):
                self._structure([i], [j])
            else:
                acc.pairs.append((i, j))
            p, q = p + 1, found + 1
        acc.missing += [i + 1 for i in sa[p:]]
        acc.extra += [j + 1 for j in sb[q:]]

    def _group_at(self, sa: list[int], sb: list[int], p: int, q: int) -> tuple[int, int] | None:
        a, b = self.a, self.b
        x, y = _nows(a[sa[p]]), _nows(b[sb[q]])
        if x == y:
            return (1, 1)
        if y.startswith(x) and x:
            acc_x = x
            for r in range(p + 1, min(len(sa), p + 10)):
                acc_x += _nows(a[sa[r]])
                if acc_x == y:
                    return (r - p + 1, 1)
                if not y.startswith(acc_x):
                    break
        if x.startswith(y) and y:
            acc_y = y
            for r in range(q + 1, min(len(sb), q + 10)):
                acc_y += _nows(b[sb[r]])
                if acc_y == x:
                    return (1, r - q + 1)
                if not x.startswith(acc_y):
                    break
        return None

    # -- general: words and characters ------------------------------------------------------

    def _words_and_chars(self) -> list[Finding]:
        acc, a, b = self.acc, self.a, self.b
        out: list[Finding] = []
        s, t = self.s, self.t
        moji = self._mojibake()
        repaired = t
        if moji:
            out.append(moji[0])
            repaired = moji[1]
        rb = repaired.split("\n") if moji else b
        lost = _words(s) - _words(repaired)
        added = _words(repaired) - _words(s)
        for ln in acc.missing:
            lost -= _words(a[ln - 1])
        for ln in acc.extra:
            added -= _words(rb[ln - 1])
        for m in acc.merges:
            joined, parts = _words(m["stored"]), _words(" ".join(m["sent"]))
            lost -= parts - joined
            added -= joined - parts
        for m in acc.splits:
            whole, parts = _words(m["sent"]), _words(" ".join(m["stored"]))
            lost -= whole - parts
            added -= parts - whole
        if moji and "\ufffd" in repaired:
            self._explain_replacement_char(lost, added)

        marks = self._combining_marks(lost, added)
        if marks:
            out.append(marks)

        if +lost:
            out.append(self._word_finding("lost_words", lost, s))
        if +added:
            out.append(self._word_finding("added_words", added, t))

        unexplained = [(i, j) for i, j in acc.pairs
                       if a[i] != b[j] and rb[j] != a[i] and _words(a[i]) == _words(b[j])]
        if unexplained:
            i, j = unexplained[0]
            msg = (f"Text changed on {_plural(len(unexplained), 'line')} although no word was "
                   f"lost or added (punctuation, symbols or spacing): sent line {i + 1} "
                   f"{_q(a[i])} is stored as {_q(b[j])}")
            out.append(Finding("changed_text", KINDS["changed_text"], _end(msg),
                               {"sent_lines": [p[0] + 1 for p in unexplained],
                                "stored_lines": [p[1] + 1 for p in unexplained]}))
        return out

    def _word_finding(self, kind: str, words: Counter[str], text: str) -> Finding:
        order: list[str] = []
        seen: set[str] = set()
        for w in _WORD.findall(text):
            if words[w] > 0 and w not in seen:
                seen.add(w)
                order.append(w)
        total = sum(words.values())
        listed = ", ".join(_q(w, 40) for w in order[:10]) + (", ..." if len(order) > 10 else "")
        if kind == "lost_words":
            msg = f"Words lost: {listed} ({_plural(total, 'word')} of the sent text missing from the stored text)"
        else:
            msg = f"Words added: {listed} ({_plural(total, 'word')} in the stored text that {'was' if total == 1 else 'were'} not sent)"
        return Finding(kind, KINDS[kind], _end(msg),
                       {"words": order, "counts": {w: words[w] for w in order}, "count": total})

    def _mojibake(self) -> tuple[Finding, str] | None:
        s, t = self.s, self.t
        sent_seqs = Counter(m.group() for m in _MOJIBAKE.finditer(s))
        seen: Counter[str] = Counter()
        verdict: dict[str, bool] = {}
        occurrences: list[dict] = []  # pos, stored, sent, label
        covered: set[int] = set()
        for m in _MOJIBAKE.finditer(t):
            rep = _mojibake_repair(m.group())
            if not rep:
                continue
            garbled, original = rep
            seen[garbled] += 1
            if seen[garbled] <= sent_seqs.get(garbled, 0):
                continue
            if garbled not in verdict:  # garbled form sent literally, original never sent
                verdict[garbled] = not (garbled in s and original not in s)
            if not verdict[garbled]:
                continue
            occurrences.append({"pos": m.start(), "stored": garbled, "sent": original,
                                "label": "UTF-8 text read as Latin-1/Windows-1252"})
            covered.update(range(m.start(), m.start() + len(garbled)))
        c1_sent = Counter(_C1.findall(s))
        c1_seen: Counter[str] = Counter()
        sent_tokens: set[str] | None = None
        for m in _C1.finditer(t):
            if m.start() in covered:
                continue
            c = m.group()
            c1_seen[c] += 1
            if c1_seen[c] <= c1_sent[c]:
                continue
            if sent_tokens is None:
                sent_tokens = set(s.split())
            token = _token_at(t, m.start())
            original, label = "?", "a control character that was not sent"
            for codec, name in (("cp1252", "Windows-1252"), ("cp850", "DOS code page 850"),
                                ("cp437", "DOS code page 437")):
                try:
                    cand = bytes([ord(c)]).decode(codec)
                except UnicodeDecodeError:
                    continue
                if token.replace(c, cand) in sent_tokens:
                    original, label = cand, f"{name} text read as Latin-1"
                    break
            else:
                match = self._match_wild(token, c)
                if match:
                    original = match
            occurrences.append({"pos": m.start(), "stored": c, "sent": original, "label": label,
                                "repair": original if len(original) == 1 and original != "?"
                                else None})
        fffd_extra = t.count("\ufffd") - s.count("\ufffd")
        if fffd_extra > 0:
            occurrences.append({"pos": t.find("\ufffd"), "stored": "\ufffd", "sent": "?",
                                "label": "Latin-1 text read as UTF-8"})
        if not occurrences:
            return None
        occurrences.sort(key=lambda o: o["pos"])
        pieces: list[str] = []
        last = 0
        for o in occurrences:
            repl = o.get("repair", o["sent"]) if o["stored"] != "\ufffd" else None
            if repl:
                pieces += [t[last:o["pos"]], repl]
                last = o["pos"] + len(o["stored"])
        pieces.append(t[last:])
        repaired = "".join(pieces)

        first = min(occurrences, key=lambda o: (o["stored"] == "\ufffd", o["pos"]))
        line = t.count("\n", 0, first["pos"]) + 1
        word = _token_at(t, first["pos"])
        if first["stored"] == "\ufffd":
            sent_word = self._match_wild(word, "\ufffd")
            msg = (f"Characters garbled (mojibake): \"\ufffd\" (replacement character) in the "
                   f"stored text (line {line}, {_q(word, 40)}"
                   + (f" where {_q(sent_word, 40)} was sent" if sent_word else "")
                   + f"), typical of {first['label']}")
        else:
            shown = _visible(first["stored"])
            if first["sent"] == "?" or len(first["sent"]) > 1:
                sent_word = first["sent"] if first["sent"] != "?" else None
                msg = (f"Characters garbled (mojibake): \"{shown}\" in the stored text (line "
                       f"{line}, {_q(word, 40)}"
                       + (f" where {_q(sent_word, 40)} was sent" if sent_word else "") + ")")
            else:
                fixed = word.replace(first["stored"], first["sent"])
                msg = (f"Characters garbled (mojibake): \"{shown}\" where \"{first['sent']}\" was "
                       f"sent (line {line}: {_q(word, 40)} instead of {_q(fixed, 40)}); "
                       f"typical of {first['label']}")
        total = len(occurrences) + max(fffd_extra - 1, 0)
        if total > 1:
            msg += f"; {total} garbled characters in total"
        examples = [{"stored": o["stored"], "sent": o["sent"],
                     "line": t.count("\n", 0, o["pos"]) + 1,
                     "stored_word": _token_at(t, o["pos"]), "cause": o["label"]}
                    for o in occurrences[:20]]
        details = {"count": total, "examples": examples,
                   "sequences": dict(Counter(o["stored"] for o in occurrences))}
        return Finding("mojibake", KINDS["mojibake"], _end(msg), details), repaired

    def _match_wild(self, word: str, wild: str) -> str | None:
        """The sent whitespace-token that ``word`` becomes when ``wild`` stands for 1-2 chars."""
        if not word or len(word) > 100:
            return None
        pattern = re.compile(r"(?<!\S)" + re.escape(word).replace(re.escape(wild), r"[^\s]{0,2}")
                             + r"(?!\S)")
        m = pattern.search(self.s)
        return m.group() if m else None

    def _explain_replacement_char(self, lost: Counter[str], added: Counter[str]) -> None:
        cache: dict[str, str | None] = {}
        for n, m in enumerate(re.finditer(r"\S*\ufffd\S*", self.t)):
            if n >= 200:
                break
            token = m.group()
            if token not in cache:
                cache[token] = self._match_wild(token, "\ufffd")
            sent_word = cache[token]
            if sent_word:
                ws, wt = _words(sent_word), _words(token)
                _remove(lost, ws - wt)
                _remove(added, wt - ws)

    def _combining_marks(self, lost: Counter[str], added: Counter[str]) -> Finding | None:
        if _count_marks(self.t) >= _count_marks(self.s):
            return None
        by_base: dict[str, list[tuple[str, int]]] = {}
        for w in lost:
            if lost[w] > 0:
                base, n = _base_and_marks(w)
                if n:
                    by_base.setdefault(base, []).append((w, n))
        pairs: list[tuple[str, str]] = []
        for w in list(added):
            if added[w] <= 0:
                continue
            base, n = _base_and_marks(w)
            for cand, cn in by_base.get(base, []):
                if cn > n and lost[cand] > 0:
                    k = min(lost[cand], added[w])
                    lost[cand] -= k
                    added[w] -= k
                    pairs.append((cand, w))
                    break
        if not pairs:
            return None
        shown = ", ".join(f"{_q(x, 30)} -> {_q(y, 30)}" for x, y in pairs[:5])
        msg = (f"Accents/diacritics lost: {shown}; a dropped combining mark turns \"å\", \"ä\", "
               f"\"ö\" into \"a\", \"a\", \"o\" and can change the word")
        return Finding("combining_marks_lost", KINDS["combining_marks_lost"], _end(msg),
                       {"pairs": [{"sent": x, "stored": y} for x, y in pairs],
                        "sent_marks": _count_marks(self.s), "stored_marks": _count_marks(self.t)})

    # -- findings from accumulated observations ---------------------------------------------

    def _findings_from_acc(self) -> list[Finding]:
        acc, a, b = self.acc, self.a, self.b
        out: list[Finding] = []
        counts = {"sent_lines": len(a), "stored_lines": len(b)}
        if acc.lb_lost:
            first = acc.lb_lost[0]
            i, j = first["sent_line"], first["stored_line"]
            nxt = a[i] if i < len(a) else ""
            msg = (f"Line breaks lost: the sent text has {_plural(len(a), 'line')}, the stored "
                   f"text {len(b)} ({_plural(len(acc.lb_lost), 'line break')} missing); ")
            if a[i - 1].strip() == "" or nxt.strip() == "":
                blank = i if a[i - 1].strip() == "" else i + 1
                before = a[blank - 2] if blank >= 2 else ""
                after = a[blank] if blank < len(a) else ""
                msg += (f"a blank line (paragraph break) was removed, e.g. sent line {blank} "
                        f"between {_q(before, 40)} and {_q(after, 40)}")
            else:
                msg += (f"lines ran together, e.g. sent lines {i}-{i + 1} {_q(a[i - 1], 40)} + "
                        f"{_q(nxt, 40)} are stored as one line {_q(b[j - 1])}")
            out.append(Finding("line_breaks_lost", KINDS["line_breaks_lost"], _end(msg),
                               {**counts, "lost": len(acc.lb_lost),
                                "joined_after_sent_lines": [x["sent_line"] for x in acc.lb_lost],
                                "stored_lines_affected": sorted({x["stored_line"] for x in acc.lb_lost})}))
        if acc.merges:
            shown = "; ".join(" + ".join(_q(p, 30) for p in m["sent"]) + f" -> {_q(m['stored'], 40)}"
                              + f" (line {m['stored_line']})" for m in acc.merges[:5])
            msg = (f"Words run together: {shown}"
                   + (f"; {len(acc.merges)} places in total" if len(acc.merges) > 1 else ""))
            out.append(Finding("merged_words", KINDS["merged_words"], _end(msg),
                               {"count": len(acc.merges), "words": acc.merges[:200]}))
        if acc.lb_added:
            first = acc.lb_added[0]
            i, j = first["sent_line"], first["stored_line"]
            nxt = b[j] if j < len(b) else ""
            msg = (f"Line breaks added: the sent text has {_plural(len(a), 'line')}, the stored "
                   f"text {len(b)} ({_plural(len(acc.lb_added), 'extra line break')}); lines were "
                   f"split, e.g. sent line {i} {_q(a[i - 1])} is stored as {_q(b[j - 1], 40)} / "
                   f"{_q(nxt, 40)}")
            out.append(Finding("line_breaks_added", KINDS["line_breaks_added"], _end(msg),
                               {**counts, "added": len(acc.lb_added),
                                "split_after_stored_lines": [x["stored_line"] for x in acc.lb_added],
                                "sent_lines_affected": sorted({x["sent_line"] for x in acc.lb_added})}))
        if acc.splits:
            shown = "; ".join(f"{_q(m['sent'], 40)} -> " + " + ".join(_q(p, 30) for p in m["stored"])
                              + f" (sent line {m['sent_line']})" for m in acc.splits[:5])
            msg = (f"Words split apart: {shown}"
                   + (f"; {len(acc.splits)} places in total" if len(acc.splits) > 1 else ""))
            out.append(Finding("split_words", KINDS["split_words"], _end(msg),
                               {"count": len(acc.splits), "words": acc.splits[:200]}))
        if acc.moved:
            i, j = acc.moved[0]
            msg = (f"Lines in a different order: {_plural(len(acc.moved), 'line')} moved, e.g. "
                   f"{_q(a[i - 1])} is sent line {i} but stored line {j}")
            out.append(Finding("reordered_lines", KINDS["reordered_lines"], _end(msg),
                               {"count": len(acc.moved),
                                "moved": [{"sent_line": x, "stored_line": y} for x, y in acc.moved]}))
        if acc.missing:
            missing = sorted(acc.missing)
            at_end = missing[-1] == len(a) and all(
                x == y for x, y in zip(missing, range(missing[0], len(a) + 1)))
            quoted = ", ".join(_q(a[i - 1]) for i in missing[:3]) + (", ..." if len(missing) > 3 else "")
            msg = (f"Lines missing: {_plural(len(missing), 'line')} of the sent text "
                   f"{'is' if len(missing) == 1 else 'are'} not in the stored text "
                   f"(sent {'line' if len(missing) == 1 else 'lines'} {_line_list(missing)}): {quoted}")
            if at_end:
                msg += "; they are the last lines of the report (cut off?)"
            out.append(Finding("missing_lines", KINDS["missing_lines"], _end(msg),
                               {"sent_lines": missing, "count": len(missing), "at_end": at_end}))
        if acc.extra:
            extra = sorted(acc.extra)
            quoted = ", ".join(_q(b[j - 1]) for j in extra[:3]) + (", ..." if len(extra) > 3 else "")
            msg = (f"Extra lines: {_plural(len(extra), 'line')} in the stored text "
                   f"{'was' if len(extra) == 1 else 'were'} not sent (stored "
                   f"{'line' if len(extra) == 1 else 'lines'} {_line_list(extra)}): {quoted}")
            out.append(Finding("extra_lines", KINDS["extra_lines"], _end(msg),
                               {"stored_lines": extra, "count": len(extra)}))
        if acc.ws_lines:
            i, j = acc.ws_lines[0]
            msg = (f"Spacing changed on {_plural(len(acc.ws_lines), 'line')} (tabs, non-breaking "
                   f"or repeated spaces, indentation); all words and line breaks are intact; "
                   f"e.g. sent line {i} {_q(a[i - 1])} is stored as {_q(b[j - 1])}")
            out.append(Finding("whitespace_changed", KINDS["whitespace_changed"], _end(msg),
                               {"sent_lines": [x for x, _ in acc.ws_lines],
                                "stored_lines": [y for _, y in acc.ws_lines]}))
        return out

    def _generic_change(self) -> Finding:
        for tag, i1, i2, j1, j2 in self.opcodes():
            if tag != "equal":
                sent_line = self.a[i1] if i1 < i2 else ""
                stored_line = self.b[j1] if j1 < j2 else ""
                msg = (f"The stored text differs from the sent text: first difference at sent line "
                       f"{i1 + 1}: {_q(sent_line)} -> {_q(stored_line)}")
                return Finding("changed_text", KINDS["changed_text"], _end(msg),
                               {"sent_lines": list(range(i1 + 1, i2 + 1)),
                                "stored_lines": list(range(j1 + 1, j2 + 1))})
        return Finding("changed_text", KINDS["changed_text"],
                       "The stored text differs from the sent text.", {})


def _remove(counter: Counter[str], items: Counter[str]) -> None:
    """In-place multiset difference, never below zero."""
    for key, n in items.items():
        if counter.get(key, 0) > 0:
            left = counter[key] - n
            if left > 0:
                counter[key] = left
            else:
                del counter[key]


def _end(msg: str) -> str:
    return msg if msg.endswith((".", "...")) else msg + "."


def _line_list(numbers: list[int], limit: int = 10) -> str:
    """'3, 5-7, 9' for a sorted list of line numbers."""
    ranges: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:  # type: ignore[list-item]
        if n is not None and n == prev + 1:
            prev = n
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    text = ", ".join(ranges[:limit])
    return text + (", ..." if len(ranges) > limit else "")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def compare(sent: str, stored: str, rules: TextRules | None = None) -> FidelityResult:
    """Compare the sent report text with the text read back from the receiving system."""
    if not isinstance(sent, str) or not isinstance(stored, str):
        raise TypeError("compare() takes decoded text (str), not bytes: decode first, "
                        "then compare")
    rules = rules if rules is not None else TextRules()
    s, t = normalise(sent, rules), normalise(stored, rules)
    if s == t:
        return FidelityResult(True, [], sent, stored, rules)
    analysis = _Analysis(s, t, rules)
    return FidelityResult(False, analysis.run(), sent, stored, rules)
