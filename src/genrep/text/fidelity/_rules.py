"""What counts as "the same text": the rules a contract can tune (:class:`TextRules`) and
:func:`normalise`, which applies them to both sides before anything is compared.

Kept apart from the comparison because it is also configuration: ``config/contracts`` builds
``TextRules`` from contract YAML (``TextRules.from_mapping``), and its errors name the rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

NEGATION_WORDS: tuple[str, ...] = (
    "ingen", "inga", "inget", "ej", "inte", "utan", "icke", "no", "not", "without",
)

_UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029]")
_PROTECTED_TRAILING = "\r\n\u2028\u2029"  # never stripped as "trailing whitespace"


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
