"""The generated text with its exact expected text, and the features a generated text can exercise.

:class:`GeneratedText` is what every strategy of ``genrep.text.generated`` returns: what goes in
(``plain``, or an already-escaped ``wire`` value), what a correct receiver must show (``expected``)
and the features it exercises, in the order of the feature constants here. The constants are the
names ``require=`` takes and every example reports (a finding of ``genrep explore`` keeps them);
``NLL_MAX_LENGTH`` and ``NLL_LINE_BREAK`` are the contracts' values as defaults, which
``tests/unit/test_generated_texts.py`` checks, because the text layer sits below ``config``.
Kept in a module of its own so that every strategy module, and explore, share one definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Columns at which receivers and label printers wrap lines (character offsets from the line start).
WRAP_COLUMNS: tuple[int, ...] = (60, 65, 72, 80)
#: ``contracts/nll.yaml``: MedicationRequest.dosageInstruction.patientInstruction maxLength.
NLL_MAX_LENGTH = 512
#: ``contracts/nll.yaml`` ``line_breaks``: the EHR was built for LF only.
NLL_LINE_BREAK = "\n"

#: Features of clinical text (every strategy), detected in the final text.
CLINICAL_FEATURES: tuple[str, ...] = (
    "unit",                  # 2,5 mg  10 ml/h  50 µg  4,2 mmol/L  38,5 °C
    "comparison",            # < 5 mm  ≥ 2 cm
    "arrow",                 # → ↑ ↓
    "ampersand",             # höger & vänster
    "quote",                 # " ' « » „ “ ” ‘ ’
    "markup",                # <br> <b>..</b> &amp;
    "bullet_list",           # • - * – · lines
    "numbered_list",         # 1.  2)  a)
    "table",                 # indented rows, cells separated by tabs or runs of spaces
    "nbsp",                  # U+00A0
    "soft_hyphen",           # U+00AD (inside a long compound word)
    "long_word",             # a compound word of more than 40 letters
    "decimal_comma",         # 2,5
    "date",                  # 2024-11-05  5/11
    "dosage",                # 1x3  1+0+1  ½ tablett  3 gånger dagligen
    "nfd",                   # å/ä/ö as base letter + combining mark
    "blank_line",            # an empty line (paragraph break)
    "negation",              # any word of the negation list
    "negation_first_word",   # the text's first word
    "negation_last_word",    # the text's last word
    "negation_alone",        # the only word on its line
    "negation_line_start",   # a line starts with it
    "negation_line_end",     # a line ends with it (punctuation after it allowed)
    "negation_wrap_column",  # it starts at, ends at or spans one of the wrap columns
    "conclusion",            # a conclusion paragraph headed "Slutsats:" or "Bedömning:" (report texts only)
    "conclusion_negation",   # a negation word inside the conclusion paragraph
    "conclusion_negation_wrap_column",  # ... starting at, ending at or spanning a wrap column
)
#: Features only a report text has: a receiver lifts its conclusion paragraph out
#: (DiagnosticReport.conclusion); a patient instruction (NLL) has none.
REPORT_FEATURES: tuple[str, ...] = ("conclusion", "conclusion_negation", "conclusion_negation_wrap_column")
#: What the RIS user typed that the builder must escape (detected in ``plain``).
HL7_PLAIN_FEATURES: tuple[str, ...] = (
    "field_sep", "component_sep", "repetition_sep", "subcomponent_sep", "escape_char",
    "escape_lookalike",      # typed text that reads like an escape: \F\  \.br\  \X0D0A\  \C2842\
    "crlf", "cr",            # CR LF / lone CR line endings in the typed text
    "trailing_space",        # a line ending in spaces or a tab (TX: "should be removed")
)
#: Escapes used by ``wire`` (recorded as the value is encoded).
HL7_WIRE_FEATURES: tuple[str, ...] = (
    "esc_F", "esc_S", "esc_T", "esc_R", "esc_E",
    "hex",                   # any \Xhh..\
    "hex_non_ascii",         # a non-ASCII character as its bytes in the message charset
    "hex_split",             # one UTF-8 character split over adjacent hex escapes
    "hex_line_break",        # \X0A\  \X0D0A\  \X0D\
    "highlight",             # \H\..\N\
    "fmt_br", "fmt_sp", "fmt_in", "fmt_ti", "fmt_sk", "fmt_ce", "fmt_fi", "fmt_nf",  # FT only
    "repetition",            # ~ as a hard line break (TX only)
)
HL7_FEATURES: tuple[str, ...] = CLINICAL_FEATURES + HL7_PLAIN_FEATURES + HL7_WIRE_FEATURES
NLL_FEATURES: tuple[str, ...] = tuple(f for f in CLINICAL_FEATURES if f not in REPORT_FEATURES) + (
    "at_max_length",          # exactly max_length characters
    "bytes_over_max_length",  # at most max_length characters, more than max_length UTF-8 bytes
)

_FT_ONLY = frozenset(f for f in HL7_WIRE_FEATURES if f.startswith("fmt_"))
_TX_ONLY = frozenset({"repetition"})


@dataclass(frozen=True)
class GeneratedText:
    """One generated text.

    ``plain``: what a user typed (line breaks LF, or CR LF / CR in HL7 examples).  ``wire``: an
    already-escaped OBX-5 value of type ``wire_type`` ("FT", "TX" or "ST") in ``charset`` (MSH-18)
    encoding the same text, or None.  ``expected``: what a correct receiver shows (decoded, line
    breaks LF).  ``features``: what it exercises, in the order of the feature constants.
    """

    plain: str
    wire: str | None
    expected: str
    features: tuple[str, ...]
    wire_type: str | None = None
    charset: str | None = None


def _ordered(features: Iterable[str], order: tuple[str, ...]) -> tuple[str, ...]:
    have = set(features)
    return tuple(f for f in order if f in have)
