"""The state of one comparison that the detectors share: both texts (composed for classifying),
split into lines, the line alignment (computed once, on first use) and :class:`_Acc`, where the
line and structure detectors record what they saw for ``_report`` to word.

Its own module so that every detector can take it without importing the orchestration
(``_compare``), which imports the detectors.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from genrep.text.fidelity._align import _line_opcodes
from genrep.text.fidelity._rules import TextRules


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
    """Normalised sent text ``s`` and stored text ``t``, their lines ``a`` and ``b``."""

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

    def opcodes(self) -> list[tuple[str, int, int, int, int]]:
        if self._ops is None:
            self._ops = _line_opcodes(self.a, self.b)
        return self._ops
