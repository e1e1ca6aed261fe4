"""``genrep explore``: property-based rehearsal against the live environment (virtual or a real profile).

The scenarios check texts a tester chose; exploration checks texts nobody chose. Each *example* is a
generated report text (``genrep.text.generated``: ``hl7_texts`` by default, ``clinical_texts``, or
``nll_texts`` for the medication list) that carries the exact text a correct receiver must show. It
goes through the real integration, exactly as the steps send it:

* **radiology**: an allowlisted test patient is registered once (ADT A04); per example an ORU^R01
  with a fresh accession and control id is sent over MLLP (the example's line convention and MSH-18
  character set, or its already-escaped OBX-5 *wire* value of type FT/TX/ST), and after AA the
  report is read back through ``RadiologyClient.read_back`` (AA is not stored: it polls the agreed
  time); every representation it reads (presentedForm Binary, inline and HTML, the linked
  Observations, the conclusion) is compared with the example's ``expected`` text and with each
  other by ``RadiologyClient.check`` (the contract's text rules, ``genrep.text.fidelity``). A
  refusal of a valid message, no ACK, nothing stored or two reports under one accession fail too.
  An example may have neutral report lines appended up to a drawn total length (0 to 70,000
  characters, past RAD-R01's 64 KiB): a limit on a report's length is part of what is explored, and
  the shrinker brings the length down to the limit while it simplifies the generated text.
* **nll** (virtual environment only): the example is planted as a prescription's patient
  instruction through the virtual NLL's admin API (fresh prescription id per example, LF, CR LF or
  CR line breaks), and the EHR's medication list is read and compared. A real NLL holds only its own
  data, so ``--integration nll`` with a real profile is refused ("not supported").

Hypothesis drives it (``search``): an ``@given`` function run programmatically with
``max_examples``, ``@seed(seed)`` (the same seed gives the same examples), no database, no deadline,
phases explicit/generate/shrink. A failing example raises one exception class per classification
(the fidelity kind, or ``not_stored``, ``refused`` ...), so Hypothesis **shrinks each kind apart,
against the live system**, to a minimal failing example, and raises them all at the end. An example
the shrinker builds again identically is not sent again (its outcome is reused). The budget bounds
everything: once it runs out the next example is not sent, generation and shrinking stop, and the
smallest failing example seen so far for each kind is reported ("shrinking cut short by the
budget"). Transport, configuration and identity-guard errors stop the run at once, never shrunk:
exit 3 and 2 as everywhere in genrep.

Each finding (:class:`Finding`) is saved as JSON (``OUT/findings/<integration>-<kind>-<hash>.json``:
the plain text, wire value, expected text, seed, kind, what was read back), which ``replay`` runs
again exactly (fresh accession), and beside it a ready-to-paste Gherkin regression scenario
(``.feature``: existing steps, tagged with the requirement id). ``write_allure`` makes one Allure
result per finding through ``genrep.results.writer``, with its requirement id, its classification
and the minimal example attached (identities masked).

Requirement per classification (:data:`REQUIREMENTS`, after the fidelity scenarios' tags)::

    classification                                         radiology   nll
    lost_negation                                          RAD-R12     NLL-001
    truncated                                              RAD-R01     NLL-N02
    missing_lines, extra_lines, reordered_lines            RAD-R02     NLL-001
    line_breaks_lost, line_breaks_added, merged_words,     RAD-R03     NLL-N01
      split_words
    mojibake                                               RAD-R09     NLL-001
    combining_marks_lost, unicode_normalisation            RAD-R11     NLL-001
    lost_words                                             RAD-001     NLL-N03
    not_stored, no_ack                                     RAD-R21     (radiology only)
    any other: representations_disagree, refused,          RAD-001     NLL-001
      conclusion_not_in_report, duplicated, empty, ...
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from genrep.errors import ConfigError, GenrepError
from genrep.paths import REPORTS_DIR

INTEGRATIONS = ("radiology", "nll")
#: generators per integration (the first is the default)
GENERATORS = {"radiology": ("hl7", "clinical"), "nll": ("nll",)}
DEFAULT_OUT = REPORTS_DIR / "explore"
DEFAULT_EXAMPLES = 50
DEFAULT_BUDGET = 300.0
PADDING_MAX = 70_000  # characters: the longest report an example is padded to, past RAD-R01's 64 KiB
_LENGTH_SCALE = 70    # an example's length is x * x / 70 characters (see example_strategy)
FORMAT = "genrep-explore-finding/1"

_RAD_DEFAULT = "RAD-001"
_NLL_DEFAULT = "NLL-001"
REQUIREMENTS: dict[str, dict[str, str]] = {
    "radiology": {
        "lost_negation": "RAD-R12",
        "truncated": "RAD-R01",
        "missing_lines": "RAD-R02", "extra_lines": "RAD-R02", "reordered_lines": "RAD-R02",
        "line_breaks_lost": "RAD-R03", "line_breaks_added": "RAD-R03", "merged_words": "RAD-R03",
        "split_words": "RAD-R03",
        "mojibake": "RAD-R09",
        "combining_marks_lost": "RAD-R11", "unicode_normalisation": "RAD-R11",
        "not_stored": "RAD-R21", "no_ack": "RAD-R21",
    },
    "nll": {
        "truncated": "NLL-N02",
        "line_breaks_lost": "NLL-N01", "line_breaks_added": "NLL-N01", "merged_words": "NLL-N01",
        "split_words": "NLL-N01",
        "lost_words": "NLL-N03",
    },
}


def requirement_for(integration: str, kind: str) -> str:
    """The requirement a failure of classification ``kind`` on ``integration`` falls under."""
    table = REQUIREMENTS.get(integration, {})
    return table.get(kind, _NLL_DEFAULT if integration == "nll" else _RAD_DEFAULT)


# -------------------------------------------------------------------------------- examples ---

@dataclass(frozen=True)
class Example:
    """One input as it is sent. ``plain``: what the sender typed (radiology: built and escaped by
    ``hl7.build_oru``; nll: the instruction NLL holds); ``wire``: an already-escaped OBX-5 value of
    type ``wire_type`` sent instead of ``plain``; ``expected``: what a correct receiver shows."""

    integration: str
    plain: str
    expected: str
    wire: str | None = None
    wire_type: str | None = None
    charset: str = "UNICODE UTF-8"
    convention: str = ""        # radiology line convention; nll: LF, CRLF or CR
    features: tuple[str, ...] = ()
    padding: int = 0            # characters of neutral report lines appended to the generated text
    generator: str = ""

    @property
    def lines(self) -> list[str]:
        """The expected text's lines (split on LF, CR LF and CR)."""
        return self.expected.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    @property
    def size(self) -> tuple[int, int]:
        """(UTF-8 bytes, lines) of the expected text."""
        return len(self.expected.encode("utf-8")), len(self.lines)

    def describe(self) -> str:
        nbytes, lines = self.size
        how = (f"OBX-5 {self.wire_type} wire value" if self.wire is not None
               else f"{self.convention} convention" if self.integration == "radiology"
               else f"{self.convention} line breaks")
        return f"{lines} line{'' if lines == 1 else 's'}, {nbytes} bytes, {how}, {self.charset}"

    def digest(self) -> str:
        data = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(data).hexdigest()[:10]


# neutral report lines (no negation word, digit, HL7 delimiter or escape character): the padding
_PADDING_SENTENCES = (
    "Lungparenkymet är välventilerat.", "Hjärtstorleken är normal.", "Mediastinum är normalbrett.",
    "Skelettet i bröstkorgen är åldersadekvat.", "Övre buken är väl avbildad.",
    "Förändringarna är oförändrade sedan föregående undersökning.", "Lätt förtjockad pleura apikalt.",
    "Måttlig ateroskleros i aorta.", "Bedömning görs i samråd med remittenten.",
    "Njurarna är normalstora och väl kontrastladdade.", "Levern är homogen.",
)


def padding_text(length: int) -> str:
    """Neutral report lines, at most ``length`` characters, ending with a whole word (a word cut
    short could spell another word: "normalbrett" cut to "no", a negation)."""
    if length <= 0:
        return ""
    lines: list[str] = []
    total, i = 0, 0
    while total <= length:
        k = len(_PADDING_SENTENCES)
        line = " ".join(_PADDING_SENTENCES[(i * 3 + j) % k] for j in range(1 + i % 3))
        lines.append(line)
        total += len(line) + 1
        i += 1
    text = "\n".join(lines)
    if len(text) <= length or text[length].isspace():
        return text[:length].rstrip()
    head = text[:length]
    return head[:max(head.rfind(" "), head.rfind("\n"), 0)].rstrip()


def _with_padding(g, charset: str, convention: str, length: int, generator: str) -> Example:
    """``g`` with neutral report lines appended up to ``length`` characters in all (none if it is
    that long already). A target length, not an added one: the shrinker can then simplify the
    generated text and bring the length down to a limit independently."""
    plain, expected, wire, wire_type = g.plain, g.expected, g.wire, g.wire_type
    filler = padding_text(length - len(expected) - 1)
    if filler and wire is not None and expected.endswith("\n"):
        filler = ""  # a wire ending in a hex-escaped CR would merge with the next break: not padded
    if filler:
        # a plain text ending in a lone CR gets CR again (CR + LF would read as one CR LF)
        plain = plain + ("\r" if plain.endswith("\r") else "\n") + filler
        expected = expected + "\n" + filler
        if wire is not None:
            brk = "\\.br\\" if wire_type == "FT" else "~"
            wire = wire + brk + filler.replace("\n", brk)
            wire_type = "TX" if wire_type == "ST" else wire_type  # ST holds one line
    return Example("radiology", plain, expected, wire, wire_type, charset, convention, tuple(g.features),
                   len(filler), generator)


def _first_lines(g, keep: int):
    """``g`` (a text without a wire value) cut to its first ``keep`` lines, or ``g`` itself if its
    typed and expected lines do not pair up."""
    import re

    from genrep.text.generated import CLINICAL_FEATURES, GeneratedText, clinical_features
    parts = re.split(r"(\r\n|\r|\n)", g.plain)
    typed, expected = parts[0::2], g.expected.split("\n")
    if keep >= len(expected) or typed != expected:
        return g
    plain = "".join(parts[:2 * keep - 1])
    text = "\n".join(expected[:keep])
    found = clinical_features(text)
    return GeneratedText(plain, None, text, tuple(f for f in CLINICAL_FEATURES if f in found))


def _require_error(what: str, exc: ValueError) -> ConfigError:
    return ConfigError(f"--require: {exc} ({what})")


def example_strategy(integration: str, generator: str | None = None, *, require: tuple[str, ...] = (),
                     contract=None, padding_max: int = PADDING_MAX):
    """The Hypothesis strategy of :class:`Example` for ``integration``. A generator or a required
    feature that cannot apply to the integration is a ConfigError saying so."""
    from hypothesis import strategies as st

    from genrep.hl7.charsets import codec_for
    from genrep.text import generated

    check_generator(integration, generator)
    generator = generator or GENERATORS[integration][0]
    if integration == "nll":
        if contract is None:
            from genrep.config.contracts import load_nll
            contract = load_nll()
        max_length = _nll_max_length(contract)
        breaks = (("LF", "\n"), ("CRLF", "\r\n"), ("CR", "\r"))
        try:
            per_break = [(name, generated.nll_texts(require=require, max_length=max_length, line_break=lb))
                         for name, lb in breaks]
        except ValueError as exc:
            raise _require_error("nll_texts", exc) from None

        @st.composite
        def nll_example(draw):
            name, texts = draw(st.sampled_from(per_break))
            g = draw(texts)
            return Example("nll", g.plain, g.expected, None, None, "UTF-8", name, tuple(g.features), 0, generator)
        return nll_example()

    if contract is None:
        from genrep.config.contracts import load_radiology
        contract = load_radiology()
    charsets = [contract.charset] + [c for c in contract.charsets_supported if c != contract.charset]
    conventions = ([contract.default_convention]
                   + [c for c in contract.conventions if c != contract.default_convention])
    per_charset, refusals = [], []
    for charset in charsets:
        try:
            if generator == "hl7":
                texts = generated.hl7_texts(require=require, charset=charset)
            else:
                texts = generated.clinical_texts(require=require, codec=codec_for(charset))
        except ValueError as exc:
            refusals.append(f"{charset}: {exc}")
            continue
        per_charset.append((charset, texts))
    if not per_charset:
        raise ConfigError(f"--require {' '.join(require)}: the {generator} generator cannot make such "
                          f"radiology texts in any character set the contract supports ({'; '.join(refusals)})")

    @st.composite
    def radiology_example(draw):
        # the small choices first: the shrinker works on the choices mostly in order, so the
        # length reaches a limit early, before the long work on the generated text starts
        charset, texts = draw(st.sampled_from(per_charset))
        convention = draw(st.sampled_from(conventions))
        # the report's length: one integer x, the length x * x / 70 characters. Hypothesis draws
        # small integers far more often than large ones; the square spreads the lengths (about
        # half the examples pass 4,000 characters) while the shrinker, lowering x, still reaches a
        # length limit to within 2x/70 characters (about 15 at 4,000)
        x = draw(st.integers(0, math.isqrt(padding_max * _LENGTH_SCALE)))
        length = min(padding_max, x * x // _LENGTH_SCALE)
        # one example in ten keeps only its first lines: rare while generating, but what the
        # shrinker tries early (the generators shrink towards more features, not fewer lines);
        # both choices are always made, so that trying it leaves the other choices in place
        trim, keep = draw(st.integers(0, 9)) == 0, draw(st.integers(1, 1000))
        g = draw(texts)
        if trim and not require and g.wire is None:
            g = _first_lines(g, keep)
        return _with_padding(g, charset, convention, length, generator)
    return radiology_example()


def check_generator(integration: str, generator: str | None) -> None:
    if integration not in INTEGRATIONS:
        raise ConfigError(f"unknown integration {integration!r} for explore (supported: {', '.join(INTEGRATIONS)})")
    if generator is None or generator in GENERATORS[integration]:
        return
    why = {("radiology", "nll"): "nll_texts are FHIR strings for NLL's patient instruction (at most "
                                 "512 characters, no leading or trailing whitespace), not report texts",
           ("nll", "hl7"): "hl7_texts hold HL7 delimiters and escapes for an OBX-5 field; NLL text is a "
                           "FHIR string that never passes through HL7",
           ("nll", "clinical"): "clinical_texts may start or end with whitespace and exceed NLL's maximum "
                                "length, which a FHIR string may not"}.get((integration, generator), "")
    raise ConfigError(f"the {generator} generator cannot apply to the {integration} integration"
                      + (f": {why}" if why else "")
                      + f" (for {integration}: {', '.join(GENERATORS[integration])})")


def _nll_max_length(contract) -> int:
    from genrep.text.generated import NLL_MAX_LENGTH
    for el in contract.elements:
        if el.path.endswith("patientInstruction") and el.max_length:
            return el.max_length
    return NLL_MAX_LENGTH


# -------------------------------------------------------------------------------- outcomes ---

@dataclass
class Outcome:
    """What one example did on the live system. ``kind`` None: it passed."""

    kind: str | None = None
    severity: str | None = None
    message: str = ""          # classification first: "[kind/severity]" findings or "kind: ..."
    stored: str | None = None  # the text read back
    diff: str = ""
    ack: str = ""

    @property
    def failed(self) -> bool:
        return self.kind is not None


def _failure(kind: str, message: str, **kw) -> Outcome:
    from genrep.results.failure_kinds import failure, lookup
    return Outcome(kind, lookup(kind).severity, failure(kind, message), **kw)


def _fidelity(result, stored: str, ack: str = "") -> Outcome:
    if result.ok:
        return Outcome(stored=stored, ack=ack)
    return Outcome(result.findings[0].kind, result.findings[0].severity, result.summary(), stored,
                   result.diff(), ack)


def _classified(message: str, stored: str, diff: str, ack: str = "") -> Outcome:
    """A failure message (fidelity ``[kind/severity]`` findings or ``kind: ...`` blocks) as an
    outcome classified by the first kind it names, as the results reader classifies it."""
    from genrep.results.failure_kinds import kinds_in, lookup
    kinds = kinds_in(message) or ["changed_text"]
    return Outcome(kinds[0], lookup(kinds[0]).severity, message, stored, diff, ack)


PLACEHOLDER = "GENREPEXPLOREWIREVALUE"


class RadiologyTarget:
    """The radiology integration of one environment: register once, then one ORU per example."""

    integration = "radiology"

    def __init__(self, profile, guard, identity, contract=None):
        from genrep.config.contracts import load_radiology
        from genrep.integrations.radiology import RadiologyClient
        from genrep.text.testdata import patient_for
        self.contract = contract or load_radiology()
        self.client = RadiologyClient(profile, self.contract, guard)
        self.patient = patient_for(identity, seed="explore")

    def prepare(self) -> None:
        ex = self.client.register(self.patient)
        if ex.ack is None or ex.ack.code not in self.contract.accepted_codes:
            raise GenrepError("genrep explore: registering the test patient was answered "
                              f"{ex.ack.code + ' ' + ex.ack.text if ex.ack else 'with nothing'}: nothing explored")

    def message(self, example: Example) -> tuple[str, str]:
        """(the ORU to send, its accession): fresh accession and control id every time."""
        from genrep import hl7
        from genrep.integrations.radiology import new_accession
        accession = new_accession()
        if example.wire is None:
            report = hl7.Report(accession=accession, text=example.plain)
            return self.client.build_report(self.patient, report, convention=example.convention,
                                            charset=example.charset), accession
        report = hl7.Report(accession=accession, text=PLACEHOLDER)
        msg = self.client.build_report(self.patient, report, convention="ft-br", charset=example.charset)
        if msg.count(PLACEHOLDER) != 1 or msg.count("OBX|1|FT|") != 1:
            raise GenrepError("genrep explore: could not place the wire value in the built ORU")
        return (msg.replace("OBX|1|FT|", f"OBX|1|{example.wire_type or 'FT'}|")
                .replace(PLACEHOLDER, example.wire), accession)

    def run(self, example: Example) -> Outcome:
        msg, accession = self.message(example)
        ex = self.client.send_message(msg)
        ack = ex.ack
        if ack is None:
            return _failure("no_ack", f"no acknowledgement for report {accession}")
        if ack.code not in self.contract.accepted_codes:
            if len(ex.payload) > self.contract.max_message_bytes and ack.code in self.contract.refused_codes:
                return Outcome(ack=ack.code)  # over the agreed maximum: refusing is right
            return _failure("refused", f"the EHR answered {ack.code} to a valid report of "
                                       f"{len(ex.payload)} bytes: {ack.text}", ack=ack.code)
        reports, _ = self.client.read_back(accession)
        if not reports:
            return _failure("not_stored", f"the EHR acknowledged report {accession} with {ack.code} but it was "
                                          f"not readable over FHIR within {self.contract.stored_within_seconds} s "
                                          "(AA is not stored)", ack=ack.code)
        if len(reports) > 1:
            return _failure("duplicated", f"{len(reports)} reports stored for accession {accession}",
                            ack=ack.code)
        stored = reports[0]
        check = self.client.check(example.expected, stored)  # every representation, the conclusion
        if check.ok:
            return Outcome(stored=stored.text, ack=ack.code)
        return _classified(check.message(), stored.text,
                           "\n\n".join(f"== {name}\n{diff}" for name, diff in check.diffs), ack.code)

    def close(self) -> None:
        self.client.close()


class NLLTarget:
    """The medication list of the virtual environment: each example planted in the virtual NLL as a
    prescription's patient instruction, then the EHR's list read and compared."""

    integration = "nll"

    def __init__(self, profile, guard, identity):
        from genrep.config.contracts import load_radiology
        from genrep.integrations.medication_list import EHRMedicationClient
        from genrep.integrations.nll import NLLAdmin
        from genrep.integrations.radiology import RadiologyClient
        from genrep.text.testdata import patient_for
        require_virtual_nll(profile)
        self.inbound = RadiologyClient(profile, load_radiology(), guard)  # registers the patient (ADT)
        self.admin = NLLAdmin(profile, guard)
        self.ehr = EHRMedicationClient(profile)
        self.patient = patient_for(identity, seed="explore")
        self.patient_id = ""

    def prepare(self) -> None:
        ex = self.inbound.register(self.patient)
        if ex.ack is None or not ex.ack.accepted:
            raise GenrepError("genrep explore: registering the test patient was answered "
                              f"{ex.ack.code if ex.ack else 'with nothing'}: nothing explored")
        found = self.inbound.find_patient(self.patient.identifier)
        if not found:
            raise GenrepError("genrep explore: the registered test patient is not found over FHIR: nothing explored")
        self.patient_id = found["id"]

    def run(self, example: Example) -> Outcome:
        from genrep.integrations.medication_list import match
        from genrep.integrations.nll import Prescription
        from genrep.integrations.radiology import new_accession
        from genrep.text.fidelity import TextRules, compare
        rx_id = f"rx-{new_accession().lower()}"
        medication = "Alvedon 500 mg tablett"
        self.admin.load(self.patient.identifier, [{
            "id": rx_id, "medication": medication, "dosage_text": "1x3",
            "administration_instruction": "Sväljs hela med ett glas vatten.", "note": "Ordinerad vid vårdcentralen.",
            "version": 1, "status": "active", "patient_instruction": example.plain}])
        shown = self.ehr.medication_list(self.patient_id)
        if not shown.available:
            return _failure("nll_unavailable", f"the EHR could not show the list: {shown.message}")
        got = match(Prescription(rx_id, medication, example.plain, None, "1x3", None, "", "1", [], {}),
                    shown.prescriptions)
        if got is None:
            return _failure("missing_prescription", f"NLL holds prescription {rx_id} but the EHR does not show it")
        if not got.patient_instruction:
            return _failure("missing_field", "the patient instruction is in NLL but the EHR shows none")
        stored = got.patient_instruction
        return _fidelity(compare(example.expected, stored, TextRules()), stored)

    def close(self) -> None:
        try:
            self.admin.close()
        finally:
            self.inbound.close()


def require_virtual_nll(profile) -> None:
    if profile.kind != "virtual":
        raise ConfigError(f"explore --integration nll is not supported against '{profile.name}' "
                          f"({profile.kind}): each example is planted in NLL through the virtual NLL's admin "
                          "API, which a real NLL does not have; explore radiology there, or use the virtual "
                          "environment")


# ----------------------------------------------------------------------------- the search ---

class ExploreFailure(AssertionError):
    """A failing example (one subclass per classification, so Hypothesis shrinks each kind apart)."""

    def __init__(self, message: str, example: Example, outcome: Outcome):
        super().__init__(message)
        self.example, self.outcome = example, outcome


_FAILURE_TYPES: dict[str, type[ExploreFailure]] = {}


def failure_type(kind: str) -> type[ExploreFailure]:
    if kind not in _FAILURE_TYPES:
        _FAILURE_TYPES[kind] = type(f"ExploreFailure_{kind}", (ExploreFailure,), {})
    return _FAILURE_TYPES[kind]


class _OutOfBudget(BaseException):
    """Raised in place of the next example once the budget is spent: stops Hypothesis at once."""


class _Stopped(BaseException):
    """An error that is not a finding (transport, configuration, identity guard): stop, never shrink."""


@dataclass
class Search:
    """What one exploration saw: every example's outcome counted, the smallest failure per kind."""

    examples_run: int = 0        # sent to the live system
    repeats: int = 0             # examples the shrinker rebuilt identically: the earlier outcome reused
    live_seconds: float = 0.0    # spent sending and reading back (the rest: generating and shrinking)
    failing: dict[str, int] = field(default_factory=dict)
    smallest: dict[str, tuple[Example, Outcome]] = field(default_factory=dict)
    minimal: dict[str, tuple[Example, Outcome]] = field(default_factory=dict)  # Hypothesis's final answer
    budget_spent: bool = False
    flaky: bool = False
    error: BaseException | None = None

    def record(self, example: Example, outcome: Outcome) -> None:
        self.examples_run += 1
        if not outcome.failed:
            return
        self.failing[outcome.kind] = self.failing.get(outcome.kind, 0) + 1
        best = self.smallest.get(outcome.kind)
        if best is None or _size_key(example) < _size_key(best[0]):
            self.smallest[outcome.kind] = (example, outcome)

    def results(self) -> dict[str, tuple[Example, Outcome, str]]:
        """kind -> (minimal example, its outcome, how far shrinking got)."""
        out = {}
        for kind, (example, outcome) in self.smallest.items():
            if kind in self.minimal:
                example, outcome = self.minimal[kind]
                out[kind] = (example, outcome, "complete")
            else:
                out[kind] = (example, outcome, "cut short by the budget" if self.budget_spent
                             else "the minimal example passed when replayed (flaky)" if self.flaky
                             else "incomplete")
        return out


def _size_key(example: Example) -> tuple:
    nbytes, lines = example.size
    return (nbytes, lines, len(example.wire or ""), len(example.features))


def search(run_example: Callable[[Example], Outcome], strategy, *, examples: int, seed: int,
           deadline: float, progress: Callable[[str], None] = print) -> Search:
    """Run ``run_example`` on up to ``examples`` generated examples (Hypothesis, seeded), shrinking
    every failing kind against the live system until ``deadline`` (``time.monotonic``)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Flaky, HypothesisException

    state = Search()
    ticker = {"last": time.monotonic(), "first_failure": None}
    seen: dict[str, Outcome] = {}  # the shrinker often rebuilds an example it has run: not sent again

    def report_progress(example: Example, outcome: Outcome) -> None:
        now = time.monotonic()
        if outcome.failed and ticker["first_failure"] is None:
            ticker["first_failure"] = state.examples_run
            progress(f"  example {state.examples_run}: {outcome.kind} ({example.describe()}); shrinking "
                     "against the live system")
            ticker["last"] = now
        elif now - ticker["last"] >= 5.0 or (ticker["first_failure"] is None and state.examples_run % 10 == 0):
            ticker["last"] = now
            if state.smallest:
                smallest = ", ".join(f"{k} {e.size[0]} bytes/{e.size[1]} lines" for k, (e, _) in state.smallest.items())
                progress(f"  {state.examples_run} examples run; smallest failing so far: {smallest}")
            else:
                progress(f"  {state.examples_run} examples run, none failing")

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=True, print_blob=False)
    @hypothesis_seed(seed)
    @given(strategy)
    def probe(example: Example) -> None:
        if time.monotonic() >= deadline:
            raise _OutOfBudget()
        key = example.digest()
        outcome = seen.get(key)
        if outcome is None:
            sent = time.monotonic()
            try:
                outcome = run_example(example)
                state.live_seconds += time.monotonic() - sent
            except (KeyboardInterrupt, _OutOfBudget):
                raise
            except BaseException as exc:  # not a finding: never shrunk against the live system
                state.error = exc
                raise _Stopped() from exc
            if len(seen) < 100_000:
                seen[key] = outcome
            state.record(example, outcome)
            report_progress(example, outcome)
        else:
            state.repeats += 1
        if outcome.failed:
            raise failure_type(outcome.kind)(outcome.message, example, outcome)

    try:
        probe()
    except _OutOfBudget:
        state.budget_spent = True
    except _Stopped:
        assert state.error is not None
        raise state.error from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        unexpected = []
        for leaf in _leaves(exc):
            if isinstance(leaf, ExploreFailure):
                state.minimal[leaf.outcome.kind] = (leaf.example, leaf.outcome)
            elif isinstance(leaf, Flaky):
                state.flaky = True
            elif isinstance(leaf, _OutOfBudget):
                state.budget_spent = True
            else:
                unexpected.append(leaf)
        for leaf in unexpected:
            if not isinstance(leaf, HypothesisException):
                raise leaf  # from the generators themselves: a harness defect, never a finding
        if unexpected and not state.smallest:  # e.g. Unsatisfiable: no example could be made
            first = unexpected[0]
            raise GenrepError(f"genrep explore: the generator could not make examples ({type(first).__name__}: "
                              f"{str(first).splitlines()[0] if str(first) else ''})") from first
    return state


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions in a group (Hypothesis raises one per bug); a Flaky group is one leaf."""
    from hypothesis.errors import Flaky
    if isinstance(exc, BaseExceptionGroup) and not isinstance(exc, Flaky):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


# ------------------------------------------------------------------------------- findings ---

@dataclass
class Finding:
    """A minimal failing example with its classification, requirement and how to replay it."""

    integration: str
    kind: str
    severity: str
    requirement: str
    message: str
    example: Example
    stored: str | None
    diff: str
    seed: int
    environment: str
    defects: tuple[str, ...]
    shrinking: str
    examples_run: int
    failing_examples: int
    path: str = ""

    @property
    def name(self) -> str:
        return f"{self.integration}-{self.kind}-{self.example.digest()}"

    def to_dict(self) -> dict:
        data = {"format": FORMAT}
        for f in fields(self):
            if f.name in ("example", "path"):
                continue
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        data["example"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.example).items()}
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "") -> "Finding":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"not a genrep explore finding (no \"format\": \"{FORMAT}\")", file=source or None)
        try:
            ex = data["example"]
            example = Example(**{f.name: (tuple(ex[f.name]) if f.name == "features" else ex[f.name])
                                 for f in fields(Example) if f.name in ex})
            if not isinstance(example.plain, str) or not isinstance(example.expected, str):
                raise TypeError("plain and expected must be text")
            return cls(**{f.name: (tuple(data[f.name]) if f.name == "defects" else data[f.name])
                          for f in fields(cls) if f.name not in ("example", "path")},
                       example=example, path=source)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"a finding file needs every field of a finding ({exc})", file=source or None) from None


def load_finding(path: str | Path) -> Finding:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("finding file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"not a readable JSON finding: {exc}", file=str(path)) from None
    return Finding.from_dict(data, str(path))


def save_finding(finding: Finding, folder: Path) -> tuple[Path, Path]:
    """``folder/<name>.json`` (the replay file) and ``folder/<name>.feature`` (the regression scenario)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{finding.name}.json"
    finding.path = str(path)
    path.write_text(json.dumps(finding.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    feature = path.with_suffix(".feature")
    feature.write_text(regression_feature(finding), encoding="utf-8")
    return path, feature


# ---------------------------------------------------------------------- regression scenario ---

def _docstring(text: str, indent: str = "      ") -> list[str]:
    body = text.replace('"""', '\\"\\"\\"')
    return [f'{indent}"""'] + [(indent + ln) if ln else "" for ln in body.split("\n")] + [f'{indent}"""']


def _steps(finding: Finding) -> tuple[list[str], list[str], list[str]]:
    """(step lines, the texts its docstrings must hold, notes on what the scenario cannot hold exactly)."""
    ex, notes = finding.example, []
    if finding.integration == "nll":
        if ex.plain != ex.expected:
            notes.append("the instruction NLL held differs from the expected text")
        text = ex.expected.replace("\r\n", "\n").replace("\r", "\n")
        lines = [f"    Given the patient has a prescription in NLL whose instruction, with {ex.convention} "
                 "line breaks, is:", *_docstring(text),
                 "    When the clinician opens the medication list in the EHR",
                 "    Then the EHR shows every prescription as NLL holds it"]
        return lines, [text], notes
    if ex.wire is not None:
        if ex.wire_type != "FT":
            notes.append(f"the example's OBX-2 was {ex.wire_type}; this step sends the value as FT")
        if ex.charset != "UNICODE UTF-8":
            notes.append(f"the example's MSH-18 was {ex.charset}; this step sends UTF-8")
        if ex.wire != ex.wire.strip():
            notes.append("the step strips the value's leading and trailing whitespace")
        lines = ["    When the RIS sends a report whose OBX-5 holds the escaped value:", *_docstring(ex.wire),
                 "    Then the EHR acknowledges with AA", "    And the report read back reads:",
                 *_docstring(ex.expected)]
        return lines, [ex.wire, ex.expected], notes
    if ex.plain != ex.expected:
        notes.append("the typed CR LF / CR line endings are LF here (a docstring holds LF only; the "
                     "comparison treats them as the same line break)")
    send = "    When the RIS sends the report"
    if ex.charset != "UNICODE UTF-8":
        send = f'    When the RIS sends the report in the "{ex.charset}" character set'
        if ex.convention != "obx-per-line":
            notes.append(f"the example used the {ex.convention} convention too; no step sets both")
    elif ex.convention != "obx-per-line":
        send = f'    When the RIS sends the report using the "{ex.convention}" convention'
    lines = ["    Given the report text:", *_docstring(ex.expected), send,
             "    Then the EHR acknowledges with AA",
             "    And the report read back from the EHR matches the sent text"]
    return lines, [ex.expected], notes


def regression_feature(finding: Finding) -> str:
    """A feature file with the finding as a fixed regression scenario (existing steps, tagged with
    the requirement id): paste the scenario into the integration's feature file."""
    steps, texts, notes = _steps(finding)
    ex = finding.example
    nbytes, nlines = ex.size
    if finding.integration == "nll":
        header = ["@nll", f"Feature: Regression from genrep explore ({finding.kind})", "", "  Background:",
                  "    Given a registered test patient", '    And NLL serves release "N"']
        target = "features/medication_list/medication_list.feature"
    else:
        header = ["@radiology", f"Feature: Regression from genrep explore ({finding.kind})", "", "  Background:",
                  "    Given the radiology contract", "    And a registered test patient"]
        target = "features/radiology/report_fidelity.feature"
    scenario = [f"  @{finding.requirement} @negative",
                f"  Scenario: genrep explore {finding.kind}: {nlines} line(s), {nbytes} bytes (seed {finding.seed}, "
                f"{ex.digest()})", *steps]
    if not _docstrings_hold(header + [""] + scenario, texts):
        notes.append("a Gherkin docstring cannot hold this text exactly; the replay file holds it exactly")
    comments = [f"# Regression scenario from a genrep explore finding ({Path(finding.path).name or finding.name}):",
                f"# {finding.kind} ({finding.severity}), requirement {finding.requirement}, found with seed "
                f"{finding.seed} on {finding.environment}.",
                f"# Paste the scenario (from its tags to its last step) into {target}; its Background",
                "# registers the test patient. Replay the exact example: genrep explore --replay "
                + (finding.path or f"{finding.name}.json")]
    comments += [f"# NOTE: {n}." for n in notes]
    return "\n".join(comments + header + [""] + scenario) + "\n"


def _docstrings_hold(lines: list[str], texts: list[str]) -> bool:
    """Whether the Gherkin parser (pytest-bdd's) reads the scenario's docstrings back as ``texts``."""
    try:
        from gherkin.parser import Parser
        doc = Parser().parse("\n".join(lines) + "\n")
        scenario = next(c["scenario"] for c in doc["feature"]["children"] if "scenario" in c)
        return [s["docString"]["content"] for s in scenario["steps"] if "docString" in s] == texts
    except Exception:  # noqa: BLE001 - a scenario the parser refuses is simply not exact
        return False


# ------------------------------------------------------------------------------ Allure ---

def allure_result(finding: Finding, catalogue: dict):
    """The Allure result of a finding (``genrep.results.writer``): failed, with its requirement,
    its classification and the minimal example attached, identities masked."""
    from genrep.results import writer
    from genrep.results.allure import safe_text
    ex = finding.example
    nbytes, nlines = ex.size
    requirement = catalogue.get(finding.requirement)
    if requirement is None:
        raise ConfigError(f"genrep explore: requirement {finding.requirement} is not in the requirement catalogue")
    attachments = [writer.Attachment("Minimal example: text sent", safe_text(ex.plain))]
    if ex.wire is not None:
        attachments.append(writer.Attachment(f"Minimal example: OBX-5 value ({ex.wire_type})", safe_text(ex.wire)))
    attachments.append(writer.Attachment("Minimal example: expected text", safe_text(ex.expected)))
    if finding.stored is not None:
        attachments.append(writer.Attachment("Text read back", safe_text(finding.stored)))
    if finding.diff:
        attachments.append(writer.Attachment("Diff expected -> read back", safe_text(finding.diff)))
    attachments.append(writer.Attachment("Finding (replay file)", safe_text(json.dumps(
        finding.to_dict(), indent=2, ensure_ascii=False)), "application/json"))
    attachments.append(writer.Attachment("Regression scenario (.feature)", safe_text(regression_feature(finding))))
    return writer.Result(
        key=f"explore-{finding.integration}-{finding.kind}",
        name=f"genrep explore, {finding.integration}: {finding.kind} (minimal example {nlines} line(s), {nbytes} bytes)",
        full_name=f"genrep.explore.{finding.integration}.{finding.kind}",
        status="failed", message=safe_text(finding.message),
        description=(f"Generated {finding.integration} texts sent through the live integration and read back; "
                     f"{finding.failing_examples} of {finding.examples_run} examples failed as {finding.kind}. "
                     f"The minimal failing example (shrinking {finding.shrinking}) is attached; "
                     f"`genrep explore --replay {finding.path or finding.name + '.json'}` runs it again."),
        requirements=[requirement],
        labels=[("feature", "property-based exploration"), ("classification", finding.kind), ("tag", "explore")],
        parameters=[("environment", finding.environment), ("defects", ", ".join(finding.defects) or "none"),
                    ("seed", finding.seed), ("generator", ex.generator), ("example", ex.describe()),
                    ("shrinking", finding.shrinking), ("examples run", finding.examples_run)],
        attachments=attachments)


def write_allure(findings: list[Finding], results_dir: Path, integration: str) -> list[Path]:
    """One result per finding; a run replaces this integration's earlier explore results."""
    from genrep.config.contracts import load_catalogue
    from genrep.results import writer
    catalogue = load_catalogue()
    return writer.write(results_dir, [allure_result(f, catalogue) for f in findings],
                        writer.Producer("genrep_explore", integration))


# --------------------------------------------------------------------------------- runs ---

@dataclass
class Report:
    integration: str
    environment: str
    defects: tuple[str, ...]
    seed: int
    examples: int
    budget: float
    examples_run: int = 0        # sent to the environment
    repeats: int = 0             # generated again identically (by the shrinker mostly): not sent again
    failing_examples: int = 0
    budget_spent: bool = False
    live_seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    wall_seconds: float = 0.0

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "findings"}
        data["defects"] = list(self.defects)
        data["findings"] = [{"kind": f.kind, "severity": f.severity, "requirement": f.requirement,
                             "example": f.example.describe(), "shrinking": f.shrinking, "file": f.path}
                            for f in self.findings]
        return data


def _identity(profile, integration: str):
    from genrep.text.identities import Allowlist
    allowlist = Allowlist.load()
    named = profile.test_patients.get(integration, ())
    for identity in allowlist.identities:
        if identity.number in named:
            return allowlist, identity
    if named:
        raise ConfigError(f"test_patients.{integration} names no number on the test-identity allowlist",
                          file=profile.file, key=f"test_patients.{integration}")
    return allowlist, allowlist.pick(0)


@contextmanager
def environment(env: str | None, defects: tuple[str, ...], integration: str, progress=print):
    """The live profile (the virtual environment started, and stopped on every exit path) and the
    integration's target, prepared (test patient registered)."""
    from genrep.config.profile import load_profile
    from genrep.sim.defects import DEFECTS, parse_defects
    from genrep.text.identities import IdentityGuard
    parse_defects(defects)  # unknown names fail before anything starts
    profile = load_profile(env, defects=tuple(defects))
    if integration == "nll":
        require_virtual_nll(profile)
    for name in defects:
        d = DEFECTS[name.partition(":")[0].strip()]
        if d.integration != integration:
            progress(f"NOTE: defect {d.name} belongs to {d.integration}; exploring {integration} may not reach it")
    allowlist, identity = _identity(profile, integration)
    guard = IdentityGuard(allowlist)
    venv, target = None, None
    try:
        live = profile
        if profile.kind == "virtual":
            from genrep.sim.process import start_virtual_environment
            venv = start_virtual_environment(profile)
            live = venv.profile
        target = (NLLTarget(live, guard, identity) if integration == "nll"
                  else RadiologyTarget(live, guard, identity))
        target.prepare()
        yield profile, target
    finally:
        try:
            if target is not None:
                target.close()
        finally:
            if venv is not None:
                venv.stop()


def describe_environment(profile, defects: tuple[str, ...]) -> str:
    """``virtual``, ``virtual with defect radiology-truncation``, ``region-test (external)``."""
    name = profile.name if profile.name == profile.kind else f"{profile.name} ({profile.kind})"
    return name + (f" with defect {', '.join(defects)}" if defects else "")


def explore(*, env: str | None = None, integration: str = "radiology", generator: str | None = None,
            require: tuple[str, ...] = (), examples: int = DEFAULT_EXAMPLES, seed: int = 0,
            budget: float = DEFAULT_BUDGET, defects: tuple[str, ...] = (), out_dir: Path = DEFAULT_OUT,
            results_dir: Path | None = None, progress: Callable[[str], None] = print) -> Report:
    """Explore ``integration`` (see the module docstring); findings saved under ``OUT/findings``,
    the run in ``OUT/explore.json`` and one Allure result per finding in ``results_dir``."""
    from genrep import outputs
    started = time.monotonic()
    deadline = started + budget
    if examples < 1:
        raise ConfigError("--examples must be at least 1")
    if budget <= 0:
        raise ConfigError("--budget must be a positive number of seconds")
    out_dir = Path(out_dir)
    results_dir = Path(results_dir) if results_dir else out_dir / "allure-results"
    strategy = example_strategy(integration, generator, require=tuple(require))
    outputs.check(out_dir, what="explore output folder (--out)")
    outputs.check(results_dir, what="Allure results folder (--results)")
    with environment(env, tuple(defects), integration, progress) as (profile, target):
        where = describe_environment(profile, tuple(defects))
        progress(f"genrep explore: {integration} on {where}, up to {examples} examples, seed {seed}, "
                 f"budget {budget:.0f} s")
        state = search(target.run, strategy, examples=examples, seed=seed, deadline=deadline, progress=progress)
    report = Report(integration, where, tuple(defects), seed, examples, budget, state.examples_run,
                    state.repeats, sum(state.failing.values()), state.budget_spent, round(state.live_seconds, 1))
    outputs.claim(out_dir, what="explore output folder (--out)")
    for kind, (example, outcome, shrinking) in sorted(state.results().items()):
        finding = Finding(integration, kind, outcome.severity or "high", requirement_for(integration, kind),
                          outcome.message, example, outcome.stored, outcome.diff, seed, where, tuple(defects),
                          shrinking, state.examples_run, state.failing.get(kind, 0))
        save_finding(finding, out_dir / "findings")
        report.findings.append(finding)
    write_allure(report.findings, results_dir, integration)
    report.wall_seconds = round(time.monotonic() - started, 1)
    (out_dir / "explore.json").write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    return report


@dataclass
class Replay:
    finding: Finding
    environment: str
    outcome: Outcome


def replay(path: str | Path, *, env: str | None = None, defects: tuple[str, ...] | None = None,
           progress: Callable[[str], None] = print) -> Replay:
    """Run a saved finding's example once more (fresh accession and control id) against ``env``
    (default GENREP_ENV or virtual). ``defects`` default, in the virtual environment, to the ones
    the finding was found with; ``()`` is the clean environment."""
    finding = load_finding(path)
    if finding.integration not in INTEGRATIONS:
        raise ConfigError(f"unknown integration {finding.integration!r}", file=str(path), key="integration")
    if finding.example.integration != finding.integration:
        raise ConfigError("the example's integration differs from the finding's", file=str(path), key="example")
    if defects is None:
        from genrep.config.profile import load_profile
        defects = finding.defects if load_profile(env, defects=()).kind == "virtual" else ()
    with environment(env, tuple(defects), finding.integration, progress) as (profile, target):
        where = describe_environment(profile, tuple(defects))
        progress(f"genrep explore --replay: {finding.integration} {finding.kind} example "
                 f"({finding.example.describe()}) on {where}")
        outcome = target.run(finding.example)
    return Replay(finding, where, outcome)
