"""Text fidelity: did the report text that was sent arrive, word for word, in the EHR?

Why this package exists
----------------------
In 2024 radiology reports lost text between the radiology system and the EHR: reports were cut
off, lines were dropped, line breaks disappeared so that words ran together, and words vanished,
among them the Swedish negations "ingen"/"inga" ("no"/"none"). An application ACK (MSA-1 = AA)
only says the receiver accepted the message, not that it stored the text: systems have answered AA
and stored nothing or a truncated text. The harness therefore always reads the stored text back and
compares it with what was sent. This package is that comparison.

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

Layout
------
This ``__init__`` is the public face: exactly the names callers import. The rest is private:

* ``_rules``: :class:`TextRules` and :func:`normalise` (what counts as "the same text");
* ``_kinds``: the loss-kind registry (kind -> severity, report order);
* ``_result``: :class:`Finding` and :class:`FidelityResult`;
* ``_compare``: :func:`compare`, the order in which the detectors run;
* ``_context``: the state one comparison shares between detectors;
* detectors: ``_negation``, ``_shapes`` (empty, truncated, Unicode form), ``_structure`` (same
  words, other whitespace), ``_lines`` (missing, extra, moved lines), ``_word_changes`` (lost or
  added words, accents), ``_mojibake`` (garbled characters);
* ``_report`` words the line observations as findings; ``_wording``, ``_text`` and ``_align`` are
  the quoting, text and alignment helpers they share.
"""

from __future__ import annotations

from genrep.text.fidelity._compare import compare
from genrep.text.fidelity._kinds import KINDS, SEVERITIES
from genrep.text.fidelity._result import FidelityResult, Finding
from genrep.text.fidelity._rules import NEGATION_WORDS, TextRules, normalise

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
