"""The examples ``genrep explore`` sends: what one example is, and the Hypothesis strategy that makes them.

An :class:`Example` is a generated text (``genrep.text.generated``: ``hl7_texts``, ``clinical_texts``
or ``nll_texts``) as it is sent, with the exact text a correct receiver must show. A radiology
example may have neutral report lines appended up to a drawn total length (0 to 70,000 characters,
past RAD-R01's 64 KiB): a limit on a report's length is part of what is explored, and the
strategy orders its choices so that the shrinker brings the length down to a limit early, while
it simplifies the generated text. :func:`padding_cuts` and :func:`cut_padding` cut a padded
example's padding shorter exactly as the strategy builds it with a shorter length: what the search
bisects to a length limit (``shrink.settle``). Kept apart from the sending and the search so that the
strategy can be checked without a live system, and a saved finding rebuilt without Hypothesis.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace

from genrep.errors import ConfigError
from genrep.explore.names import GENERATORS, INTEGRATIONS  # one home: the CLI reads them there

PADDING_MAX = 70_000  # characters: the longest report an example is padded to, past RAD-R01's 64 KiB
_LENGTH_SCALE = 70    # an example's length is x * x / 70 characters (see example_strategy)


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
    # after a conclusion paragraph a blank line, so that the padding does not become part of the
    # conclusion (a receiver lifts the paragraph out up to the next blank line)
    breaks = 2 if "conclusion" in g.features else 1
    filler = padding_text(length - len(expected) - breaks)
    if filler and wire is not None and expected.endswith("\n"):
        filler = ""  # a wire ending in a hex-escaped CR would merge with the next break: not padded
    if filler:
        # a plain text ending in a lone CR gets CR again (CR + LF would read as one CR LF)
        plain = plain + ("\r" if plain.endswith("\r") else "\n") * breaks + filler
        expected = expected + "\n" * breaks + filler
        if wire is not None:
            brk = "\\.br\\" if wire_type == "FT" else "~"
            wire = wire + brk * breaks + filler.replace("\n", brk)
            wire_type = "TX" if wire_type == "ST" else wire_type  # ST holds one line
    return Example("radiology", plain, expected, wire, wire_type, charset, convention, tuple(g.features),
                   len(filler), generator)


def padding_cuts(example: Example) -> list[int]:
    """The lengths ``example``'s padding can be cut to, shortest first, its own last: every whole
    word of it (as :func:`padding_text` cuts), never none (without padding a wire value's type is
    not known again: ST is sent as TX once padded). Empty for an example without padding."""
    if example.padding <= 0:
        return []
    filler = example.expected[-example.padding:]
    return [i for i in range(1, len(filler)) if filler[i] in " \n" and filler[i - 1] not in " \n"] + [len(filler)]


def cut_padding(example: Example, length: int) -> Example:
    """``example`` with its padding cut to its first ``length`` characters (one of
    :func:`padding_cuts`): the very example the strategy builds from the same generated text with
    a shorter target length (``_with_padding``), so a valid example by construction."""
    filler = example.expected[-example.padding:] if example.padding > 0 else ""
    if not 0 < length <= len(filler) or length not in padding_cuts(example):
        raise ValueError(f"cannot cut the padding of {example.describe()} to {length} characters")
    drop = len(filler) - length
    if drop == 0:
        return example
    wire = example.wire
    if wire is not None:
        brk = "\\.br\\" if example.wire_type == "FT" else "~"
        wire = wire[:len(wire) - len(filler[length:].replace("\n", brk))]
    return replace(example, plain=example.plain[:-drop], expected=example.expected[:-drop], wire=wire,
                   padding=length)


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
    from hypothesis import assume
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
        example = _with_padding(g, charset, convention, length, generator)
        # a report without text is not a report: the EHR refuses it (AE, as its contract says),
        # and the shrinker, cutting text away, would otherwise report that refusal as a finding
        assume(example.expected.strip())
        return example
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
