"""The catalogue of corruption operators: one module each, one small interface (``base.Operator``).

Order is the order ``genrep mutate`` runs them in and reports them. ``catalogue(seed)`` makes one
instance of each; ``select`` picks by name or integration, refusing unknown names. Operators on the
EHR's outbound paths (``Message.outbound`` channels: NLL, Multum) need an environment that lets a
proxy sit there (the virtual one); elsewhere ``genrep mutate`` reports them as not applicable.
"""

from __future__ import annotations

from genrep.errors import ConfigError
from genrep.mutate.names import INTEGRATIONS
from genrep.mutate.operators.base import Operator
from genrep.mutate.operators.text_cut_chars import TextCutChars
from genrep.mutate.operators.value_cut_bytes import ValueCutBytes
from genrep.mutate.operators.obx_line_dropped import ObxLineDropped
from genrep.mutate.operators.obx_line_duplicated import ObxLineDuplicated
from genrep.mutate.operators.obx_lines_swapped import ObxLinesSwapped
from genrep.mutate.operators.repetition_dropped import RepetitionDropped
from genrep.mutate.operators.repetitions_first_only import RepetitionsFirstOnly
from genrep.mutate.operators.repetitions_swapped import RepetitionsSwapped
from genrep.mutate.operators.br_escape_dropped import BrEscapeDropped
from genrep.mutate.operators.ampersand_splits_text import AmpersandSplitsText
from genrep.mutate.operators.hex_escape_raw import HexEscapeRaw
from genrep.mutate.operators.utf8_read_as_latin1 import Utf8ReadAsLatin1
from genrep.mutate.operators.diacritics_folded import DiacriticsFolded
from genrep.mutate.operators.unmappable_to_question import UnmappableToQuestion
from genrep.mutate.operators.tabs_to_spaces import TabsToSpaces
from genrep.mutate.operators.indentation_stripped import IndentationStripped
from genrep.mutate.operators.rewrapped_at_80 import RewrappedAt80
from genrep.mutate.operators.crlf_two_breaks import CrlfTwoBreaks
from genrep.mutate.operators.blank_lines_removed import BlankLinesRemoved
from genrep.mutate.operators.markup_stripped import MarkupStripped
from genrep.mutate.operators.negation_dropped import NegationDropped
from genrep.mutate.operators.decimal_comma_to_point import DecimalCommaToPoint
from genrep.mutate.operators.unit_mm_to_cm import UnitMmToCm
from genrep.mutate.operators.charset_label_swapped import CharsetLabelSwapped
from genrep.mutate.operators.binary_text_cut import BinaryTextCut
from genrep.mutate.operators.binary_negation_dropped import BinaryNegationDropped
from genrep.mutate.operators.entity_encoded import EntityEncoded
from genrep.mutate.operators.form_url_dropped import FormUrlDropped
from genrep.mutate.operators.inline_data_dropped import InlineDataDropped
from genrep.mutate.operators.base64_cut import Base64Cut
from genrep.mutate.operators.fhir_text_cut import FhirTextCut
from genrep.mutate.operators.fhir_examination_cut import FhirExaminationCut
from genrep.mutate.operators.dose_mg_to_g import DoseMgToG
from genrep.mutate.operators.adt_name_folded import AdtNameFolded
from genrep.mutate.operators.adt_birth_date_shifted import AdtBirthDateShifted
from genrep.mutate.operators.adt_name_swapped import AdtNameSwapped
from genrep.mutate.operators.nll_instruction_cut_256 import NLLInstructionCut256
from genrep.mutate.operators.nll_text_cut_bytes import NLLTextCutBytes
from genrep.mutate.operators.nll_dosage_step_dropped import NLLDosageStepDropped
from genrep.mutate.operators.nll_later_dosage_steps_dropped import NLLLaterDosageStepsDropped
from genrep.mutate.operators.nll_line_breaks_doubled import NLLLineBreaksDoubled
from genrep.mutate.operators.nll_line_breaks_to_spaces import NLLLineBreaksToSpaces
from genrep.mutate.operators.nll_entity_encoded import NLLEntityEncoded
from genrep.mutate.operators.nll_utf8_as_latin1 import NLLUtf8AsLatin1
from genrep.mutate.operators.nll_negation_dropped import NLLNegationDropped
from genrep.mutate.operators.nll_administration_dropped import NLLAdministrationDropped
from genrep.mutate.operators.nll_note_dropped import NLLNoteDropped
from genrep.mutate.operators.nll_prescription_dropped import NLLPrescriptionDropped
from genrep.mutate.operators.nll_version_rolled_back import NLLVersionRolledBack
from genrep.mutate.operators.nll_modifier_dropped import NLLModifierDropped
from genrep.mutate.operators.nll_absent_as_blank import NLLAbsentAsBlank
from genrep.mutate.operators.nll_failure_as_empty import NLLFailureAsEmpty
from genrep.mutate.operators.nll_answer_cut import NLLAnswerCut
from genrep.mutate.operators.multum_interactions_emptied import MultumInteractionsEmptied
from genrep.mutate.operators.multum_severity_downgraded import MultumSeverityDowngraded
from genrep.mutate.operators.multum_interaction_drug_dropped import MultumInteractionDrugDropped
from genrep.mutate.operators.multum_partial_as_complete import MultumPartialAsComplete
from genrep.mutate.operators.multum_failure_as_no_interactions import MultumFailureAsNoInteractions
from genrep.mutate.operators.multum_answer_cut import MultumAnswerCut
from genrep.mutate.operators.multum_request_current_dropped import MultumRequestCurrentDropped

OPERATORS: tuple[type[Operator], ...] = (
    # truncation
    TextCutChars, ValueCutBytes,
    # segments, lines (OBX) and repetitions (~)
    ObxLineDropped, ObxLineDuplicated, ObxLinesSwapped, RepetitionDropped, RepetitionsFirstOnly,
    RepetitionsSwapped,
    # escapes
    BrEscapeDropped, AmpersandSplitsText, HexEscapeRaw,
    # character sets
    Utf8ReadAsLatin1, DiacriticsFolded, UnmappableToQuestion, CharsetLabelSwapped,
    # whitespace, indentation, line breaks
    TabsToSpaces, IndentationStripped, RewrappedAt80, CrlfTwoBreaks, BlankLinesRemoved,
    # markup
    MarkupStripped, EntityEncoded,
    # negation, numbers and units
    NegationDropped, BinaryNegationDropped, DecimalCommaToPoint, UnitMmToCm,
    # what the FHIR API serves: JSON strings, inline versus referenced content
    BinaryTextCut, FormUrlDropped, InlineDataDropped, Base64Cut, FhirTextCut, FhirExaminationCut,
    # other integrations: what the EHR's FHIR API shows of the medication list; registration (ADT)
    DoseMgToG, AdtNameFolded, AdtBirthDateShifted, AdtNameSwapped,
    # the EHR's outbound path to NLL (what NLL answers the EHR): text cuts, lines, characters, elements, failures
    NLLInstructionCut256, NLLTextCutBytes, NLLDosageStepDropped, NLLLaterDosageStepsDropped, NLLLineBreaksDoubled,
    NLLLineBreaksToSpaces,
    NLLEntityEncoded, NLLUtf8AsLatin1, NLLNegationDropped, NLLAdministrationDropped, NLLNoteDropped,
    NLLPrescriptionDropped, NLLVersionRolledBack, NLLModifierDropped, NLLAbsentAsBlank, NLLFailureAsEmpty,
    NLLAnswerCut,
    # the EHR's outbound path to Multum (its interaction checks, both directions)
    MultumInteractionsEmptied, MultumSeverityDowngraded, MultumInteractionDrugDropped, MultumPartialAsComplete,
    MultumFailureAsNoInteractions, MultumAnswerCut, MultumRequestCurrentDropped,
)

NAMES = tuple(op.name for op in OPERATORS)
if tuple(dict.fromkeys(op.integration for op in OPERATORS)) != INTEGRATIONS:
    raise AssertionError("genrep.mutate.names.INTEGRATIONS must list the operators' integrations in their order: "
                         f"{tuple(dict.fromkeys(op.integration for op in OPERATORS))}")
assert len(set(NAMES)) == len(NAMES), "operator names must be unique"


def catalogue(seed: int = 0) -> list[Operator]:
    return [cls(seed) for cls in OPERATORS]


def select(names: list[str] | tuple[str, ...] = (), integrations: list[str] | tuple[str, ...] = (), *,
           seed: int = 0) -> list[Operator]:
    """Operators by name (in catalogue order), else by integration ("all": every one)."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ConfigError(f"unknown operator(s): {', '.join(unknown)} (known: {', '.join(NAMES)}; "
                          "'genrep mutate --list' describes them)")
    bad = [i for i in integrations if i != "all" and i not in INTEGRATIONS]
    if bad:
        raise ConfigError(f"no operators for integration(s) {', '.join(bad)} (known: {', '.join(INTEGRATIONS)}, all)")
    ops = catalogue(seed)
    if names:
        return [op for op in ops if op.name in names]
    if integrations and "all" not in integrations:
        return [op for op in ops if op.integration in integrations]
    return ops
