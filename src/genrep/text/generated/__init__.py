"""Hypothesis strategies: report and instruction texts a tester would never hand-pick, each with
the text a correct receiver must show, so the oracle is exact.

Three strategies, all returning :class:`GeneratedText` (what goes in, what must come out, and the
features it exercises, for reporting):

* :func:`clinical_texts`: the character classes of real Swedish clinical text (units, comparison
  signs and arrows, ampersands, quotes, markup-like text, lists, indented tables, NBSP, soft hyphen,
  compound words over 40 letters, decimal commas, dates, dosage notations, NFD letters, blank
  lines) and negation words at every position (first and last word, alone on a line, at a line
  start and end, across the wrap columns 60/65/72/80). A report text mostly ends with a
  conclusion paragraph headed ``Slutsats:`` or ``Bedömning:`` (``REPORT_FEATURES``), which an EHR
  lifts out as ``DiagnosticReport.conclusion``: negation words inside it, also across a wrap
  column (``conclusion_paragraph`` finds it as the virtual EHR does: to the next blank line).
  Line breaks are LF; ``expected == plain``.
* :func:`hl7_texts`: the same texts for an HL7 v2 TX/FT/ST field, built from the text alphabet of
  HL7 v2 chapter 2. ``plain`` is what a RIS user typed: it may hold the delimiters
  ``| ^ ~ & \\``, text that only *looks* like an escape (``\\F\\``, ``\\.br\\``, ``\\X0D0A\\``,
  ``\\C2842\\`` ...) and CRLF/CR line endings; the builder must escape all of it. ``wire``, when
  set, is an already-escaped OBX-5 value of type ``wire_type`` encoding the same text with the
  escapes themselves: ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh..\\`` hex (multi-byte characters,
  also split over adjacent escapes; CR/LF), ``\\H\\``/``\\N\\`` highlighting, the FT formatting
  commands ``\\.br\\ \\.sp[N]\\ \\.in±N\\ \\.ti±N\\ \\.sk N\\ \\.ce\\ \\.fi\\ \\.nf\\`` (FT only)
  and ``~`` repetitions as hard line breaks (TX only).
* :func:`nll_texts`: texts under the FHIR R4 ``string`` rules (no control characters other than
  TAB, CR, LF; non-empty; no leading or trailing whitespace) and a maximum length in characters
  (the NLL contract's ``patientInstruction`` maxLength by default), optionally exactly at it.

``expected`` follows genrep's own decoder (``genrep.hl7.escape.unescape``): ``\\.br\\`` is a line
break, ``\\.spN\\`` N line breaks (``\\.sp\\`` one), ``\\H\\ \\N\\ .in .ti .sk .ce .fi .nf`` show as
nothing. Where chapter 2 means more (``.sk N`` skips N columns, ``.ce`` ends the line, ``.in``/``.ti``
indent), the generator only puts the command where the decoder's reading and the standard's differ
at most in whitespace and line layout, never in the words: ``.in``/``.ti``/``.ce`` at a line start,
``.sk`` after a space. Line breaks in ``expected`` are LF; a wire value's hex-escaped CR or CR LF
decodes to that CR (LF), so compare a wire's decoded text with line endings normalised (as the
contract's ``line_endings: true`` does).

Not generated on the wire: ``\\Cxxyy\\`` and ``\\Mxxyyzz\\`` (ISO 2022 character-set switches) and
``\\Zdddd\\`` (locally defined): ``unescape`` does not decode them (it keeps an unknown escape
literally so that a loss stays visible), so they occur only as literal text a user typed.

No generated text holds a personnummer-shaped number in any spelling the identity guard decodes
(``identity_scan.numbers_in`` on ``plain``, ``wire`` and ``expected``): one would be refused and stop
a run. Contract values are parameters (the text layer sits below ``config``); their defaults are
the contracts' values, which ``tests/unit/test_generated_texts.py`` checks.

Every strategy takes ``require``: feature names (``CLINICAL_FEATURES``, ``HL7_FEATURES``,
``NLL_FEATURES``) every example must exercise, e.g. ``clinical_texts(require=("table",
"negation"))``. Strategies are pure (no state, no randomness of their own): seeding and
derandomising are the caller's (``@seed``, ``settings(derandomize=True)``).

The package, one module per concern: ``model`` (:class:`GeneratedText` and the feature
constants), ``vocabulary`` (Swedish clinical words and character classes, ``clinical_features``),
``clinical`` (``clinical_texts`` and the assembly the others start from), ``hl7_alphabet``
(``hl7_texts``: typed delimiters, escapes and the wire encoder), ``fhir_strings`` (``nll_texts``),
``words`` (the English and Swedish words a feature file asks for features with: "tables and
negations", "tabeller och negationer"; ``features_for`` and, for a linter, ``problem``), ``draws``
(cheap draws: strategies built once, independent coin flips as one draw, a two-step choice as one
pick from a table; the distributions kept, about half the Hypothesis draws per text).
Import from the package: the names below are its interface.
"""

from __future__ import annotations

from genrep.text.generated.clinical import clinical_texts
from genrep.text.generated.fhir_strings import nll_texts
from genrep.text.generated.hl7_alphabet import hl7_texts
from genrep.text.generated.model import (CLINICAL_FEATURES, HL7_FEATURES, HL7_PLAIN_FEATURES,
                                         HL7_WIRE_FEATURES, NLL_FEATURES, NLL_LINE_BREAK, NLL_MAX_LENGTH,
                                         REPORT_FEATURES, WRAP_COLUMNS, GeneratedText)
from genrep.text.generated.vocabulary import clinical_features, conclusion_paragraph
from genrep.text.generated.words import features_for

__all__ = [
    "CLINICAL_FEATURES", "HL7_FEATURES", "HL7_PLAIN_FEATURES", "HL7_WIRE_FEATURES", "NLL_FEATURES",
    "NLL_MAX_LENGTH", "NLL_LINE_BREAK", "REPORT_FEATURES", "WRAP_COLUMNS", "GeneratedText",
    "clinical_features", "clinical_texts", "conclusion_paragraph", "features_for", "hl7_texts", "nll_texts",
]
