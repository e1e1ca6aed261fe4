"""Generated texts (genrep.text.generated) against the real builder, parser, fidelity comparison
and identity guard: every example's ``expected`` is an exact oracle.

(a) plain -> hl7.build_oru (every convention, every charset) -> encode/decode -> parse ->
    report_text == expected; (b) a wire value in an OBX of its type decodes to expected; (c) the
    fidelity comparison finds nothing in expected vs expected (and vs what came back), and does
    find a truncation and a dropped negation; (d) nothing personnummer-shaped, the guard passes
    the built messages; (e) every declared feature occurs, and ``require`` delivers it; (f) NLL
    texts obey the FHIR string rules and the maximum length; (g) the conclusion paragraph a report
    text ends with is the conclusion the virtual EHR lifts out, and the read-back check accepts it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from genrep.hl7 import (CONVENTIONS, Report, build_oru, decode, encode, parse, report_text, split_lines,
                        validate_structure)
from genrep.text.fidelity import NEGATION_WORDS, compare
from genrep.text.generated import (CLINICAL_FEATURES, HL7_FEATURES, HL7_WIRE_FEATURES, NLL_FEATURES,
                                   NLL_LINE_BREAK, NLL_MAX_LENGTH, WRAP_COLUMNS, GeneratedText,
                                   clinical_features, clinical_texts, hl7_texts, nll_texts)
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.identity_scan import numbers_in
from genrep.text.testdata import patient_for

ALLOWLIST = Allowlist.load()
PATIENT = patient_for(ALLOWLIST.pick(0), seed="generated-texts")
HL7_CHARSETS = ("UNICODE UTF-8", "8859/1", "8859/15")
TIMESTAMP = "20241105143000"
PLACEHOLDER = "GENREPWIREVALUE"
SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
# no shrink phase: a failing example is readable as drawn, and shrinking these composite, filtered
# strategies takes minutes
FAST_FAIL = (Phase.explicit, Phase.reuse, Phase.generate)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK, phases=FAST_FAIL)
NEG_TOKEN = re.compile(r"\w+")


def built(text: str, convention: str, charset: str) -> str:
    return build_oru(PATIENT, Report("ACC-GEN-1", text, observation_time="202411051400"),
                     control_id="GEN1", convention=convention, charset=charset, timestamp=TIMESTAMP)


def received(message: str) -> str:
    """What the receiving side stores: bytes on the wire -> decode -> parse -> report text."""
    return report_text(parse(decode(encode(message))))


def with_wire(g: GeneratedText) -> str:
    """An ORU whose one OBX holds ``g.wire`` as OBX-5, of type ``g.wire_type``."""
    message = built(PLACEHOLDER, "ft-br", g.charset)
    assert message.count(PLACEHOLDER) == 1 and message.count("OBX|1|FT|") == 1
    return message.replace("OBX|1|FT|", f"OBX|1|{g.wire_type}|").replace(PLACEHOLDER, g.wire)


def line_breaks_as_lf(text: str) -> str:
    return "\n".join(split_lines(text))


# ------------------------------------------------------------------------ (a) (b) round trips ---

@PROPERTY
@given(data=st.data(), charset=st.sampled_from(HL7_CHARSETS))
def test_plain_text_round_trips_through_the_builder_and_the_parser(data, charset):
    g = data.draw(hl7_texts(charset=charset))
    for convention in CONVENTIONS:
        message = built(g.plain, convention, charset)
        stored = received(message)
        assert stored == g.expected, (convention, g)
        assert compare(g.expected, stored).ok


@PROPERTY
@given(data=st.data(), charset=st.sampled_from(HL7_CHARSETS))
def test_wire_value_decodes_to_expected(data, charset):
    g = data.draw(hl7_texts(charset=charset, wire=True))
    assert g.wire is not None and g.wire_type in ("FT", "TX", "ST") and g.charset == charset
    assert "\r" not in g.wire and "\n" not in g.wire and "|" not in g.wire
    if g.wire_type != "FT":
        assert not any(f.startswith("fmt_") for f in g.features)
    stored = received(with_wire(g))
    assert line_breaks_as_lf(stored) == g.expected, g
    assert compare(g.expected, stored).ok
    # and the plain text of the same example still builds to the same thing
    assert received(built(g.plain, "obx-per-line", charset)) == g.expected


def _obx5_values(message: str) -> list[str]:
    return [rep for seg in parse(message).all("OBX") for rep in seg.field(5).split("~")]


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_OK, phases=FAST_FAIL)
@given(data=st.data())
def test_built_messages_are_valid_hl7_v25(data):
    charset = data.draw(st.sampled_from(HL7_CHARSETS))
    g = data.draw(hl7_texts(charset=charset))
    messages = [built(g.plain, convention, charset) for convention in CONVENTIONS]
    if g.wire is not None:
        messages.append(with_wire(g))
    for message in messages:
        if max(map(len, _obx5_values(message))) < 200:  # see the xfail below
            validate_structure(message)


@pytest.mark.xfail(strict=True, reason="harness defect: hl7apy (STRICT) checks OBX-5 as ST (max 199 "
                   "characters) whatever OBX-2 says; TX and FT allow 65536, so validate_structure refuses "
                   "every report with a line (or FT value) of 200+ characters")
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_validate_structure_accepts_a_200_character_line(convention):
    validate_structure(built("Ingen fraktur. " + "a" * 185, convention, "UNICODE UTF-8"))


# --------------------------------------------------------------------------- (c) the oracle ---

def _negations(text: str) -> list[re.Match]:
    words = set(NEGATION_WORDS)
    return [m for m in NEG_TOKEN.finditer(text) if m.group().casefold() in words]


def _check_fidelity_oracle(data, g: GeneratedText) -> None:
    same = compare(g.expected, g.expected)
    assert same.ok and not same.findings
    kept = g.expected.rstrip()
    if kept:
        cut = data.draw(st.integers(0, len(kept) - 1), label="cut")
        truncated = compare(g.expected, g.expected[:cut])
        assert not truncated.ok and truncated.findings, (cut, g)
    negations = _negations(g.expected)
    if negations:
        m = data.draw(st.sampled_from(negations), label="dropped negation")
        dropped = g.expected[:m.start()] + g.expected[m.end():]
        result = compare(g.expected, dropped)
        assert "lost_negation" in result.kinds, (m.group(), result.summary())
        assert result.severity == "critical"


@PROPERTY
@given(data=st.data())
def test_fidelity_finds_nothing_in_expected_and_catches_truncation_and_lost_negation(data):
    strategy = data.draw(st.sampled_from((hl7_texts(), nll_texts(), clinical_texts())), label="strategy")
    _check_fidelity_oracle(data, data.draw(strategy))


# ---------------------------------------------------------------------- (d) identity guard ---

@PROPERTY
@given(data=st.data())
def test_no_personnummer_shaped_number_and_the_guard_passes_the_message(data):
    g = data.draw(st.one_of(hl7_texts(), nll_texts(), clinical_texts()))
    for text in (g.plain, g.wire, g.expected):
        if text:
            assert numbers_in(text) == {}, text
    if g.wire is not None:
        IdentityGuard(ALLOWLIST).check(with_wire(g), destination="test")
    IdentityGuard(ALLOWLIST).check(built(g.plain, "ft-br", "UNICODE UTF-8"), destination="test")


# ------------------------------------------------------------------------------ (e) features ---

def _collect(strategy, n: int) -> tuple[Counter, list[GeneratedText]]:
    seen: Counter = Counter()
    examples: list[GeneratedText] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, suppress_health_check=SLOW_OK)
    @given(strategy)
    def run(g):
        seen.update(g.features)
        examples.append(g)

    run()
    return seen, examples


@pytest.mark.parametrize("name,strategy,features", [
    ("clinical", clinical_texts(), CLINICAL_FEATURES),
    ("nll", nll_texts(), NLL_FEATURES),
    ("hl7", hl7_texts(), HL7_FEATURES),
])
def test_every_declared_feature_occurs_in_a_few_hundred_examples(name, strategy, features):
    seen, examples = _collect(strategy, 300)
    assert len(examples) == 300
    missing = [f for f in features if not seen[f]]
    assert not missing, f"{name}: never produced {missing}; counts {dict(seen)}"


REQUESTS = ([("clinical", f) for f in CLINICAL_FEATURES] + [("nll", f) for f in NLL_FEATURES]
            + [("hl7", f) for f in HL7_FEATURES])
MAKERS = {"clinical": clinical_texts, "nll": nll_texts, "hl7": hl7_texts}


@pytest.mark.parametrize("name,feature", REQUESTS, ids=[f"{n}-{f}" for n, f in REQUESTS])
def test_require_delivers_the_feature(name, feature):
    _, examples = _collect(MAKERS[name](require=(feature,)), 3)
    for g in examples:
        assert feature in g.features
        if feature in HL7_WIRE_FEATURES:
            assert g.wire is not None


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW_OK, phases=FAST_FAIL)
@given(g=clinical_texts(require=("table", "negation")), h=hl7_texts(require=("fmt_sp", "hex_split", "esc_T")),
       n=nll_texts(require=("at_max_length", "negation_wrap_column", "long_word")))
def test_require_several_features_at_once(g, h, n):
    assert {"table", "negation"} <= set(g.features)
    assert {"fmt_sp", "hex_split", "esc_T"} <= set(h.features) and h.wire_type == "FT"
    assert {"at_max_length", "negation_wrap_column", "long_word"} <= set(n.features)
    assert len(n.expected) == NLL_MAX_LENGTH


def _independent_checks(g: GeneratedText) -> None:
    """Features checked here without the module's own detectors."""
    f, text, wire = set(g.features), g.expected, g.wire or ""
    assert ("nbsp" in f) == ("\xa0" in text)
    assert ("soft_hyphen" in f) == ("\xad" in text)
    assert ("arrow" in f) == any(c in text for c in "→↑↓")
    if "crlf" in f:
        assert "\r\n" in g.plain
    if "cr" in f:
        assert re.search(r"\r(?!\n)", g.plain)
    for name, escape in (("esc_F", "\\F\\"), ("esc_S", "\\S\\"), ("esc_T", "\\T\\"), ("esc_R", "\\R\\"),
                         ("esc_E", "\\E\\"), ("fmt_br", "\\.br\\"), ("fmt_ce", "\\.ce\\"),
                         ("fmt_fi", "\\.fi\\"), ("fmt_nf", "\\.nf\\"), ("highlight", "\\H\\")):
        if name in f:
            assert escape in wire, (name, wire)
    for name, rx in (("fmt_sp", r"\\\.sp"), ("fmt_in", r"\\\.in"), ("fmt_ti", r"\\\.ti"),
                     ("fmt_sk", r"\\\.sk"), ("hex", r"\\X[0-9A-Fa-f]{2}"), ("hex_line_break", r"\\X(?:0[DdAa])+\\")):
        if name in f:
            assert re.search(rx, wire), (name, wire)
    if "long_word" in f:
        assert any(len(w.replace("\xad", "")) > 40 for w in re.findall(r"[\w\xad]+", text))
    if "negation_wrap_column" in f:
        spans = [(m.start(), m.end()) for line in split_lines(text) for m in _negations(line)]
        assert any(s <= col <= e for s, e in spans for col in WRAP_COLUMNS)
    if "negation_alone" in f:
        assert any([m.group().casefold() for m in NEG_TOKEN.finditer(line)] in [[w] for w in NEGATION_WORDS]
                   for line in split_lines(text))
    if "table" in f:
        assert sum(1 for line in split_lines(text) if "\t" in line or re.search(r"\S {2,}\S", line)) >= 2


def test_a_table_pick_has_the_distribution_of_the_two_step_choice():
    """``draws.table``: one pick stands for "a group (by weight), then an item of it": the
    generators' vocabulary depends on it being exact."""
    from fractions import Fraction

    from genrep.text.generated.draws import table
    groups, weights = [("a", "b", "c", "d"), ("e",), ("f", "g", "h")], [1, 2, 3]
    items = table(groups, weights)
    assert items[0] == "a"  # the first item of the first group stays the simplest
    for group, weight in zip(groups, weights):
        for item in group:
            assert Fraction(items.count(item), len(items)) == Fraction(weight, sum(weights) * len(group))
    with pytest.raises(ValueError):
        table([("a",), ()])


def test_a_pick_from_a_large_table_keeps_its_proportions():
    """Hypothesis favours small indices past 256 items (a third of its draws from 2,520 land in the
    first tenth): a table that large (the sentence mix: a negation phrase one time in three) must
    still come out in its proportions."""
    from genrep.text.generated.draws import pick, table
    items = table([[f"negation {i}" for i in range(120)], [f"neutral {i}" for i in range(14)]], [1, 2])
    assert len(items) > 256
    drawn: list[str] = []

    @settings(max_examples=100, derandomize=True, database=None, deadline=None)
    @given(st.lists(st.composite(lambda draw: pick(draw, items))(), min_size=30, max_size=30))
    def run(xs):
        drawn.extend(xs)

    run()
    share = sum(x.startswith("negation") for x in drawn) / len(drawn)
    assert len(drawn) == 3000 and 0.28 < share < 0.40, share


def test_several_picks_in_one_draw_read_the_index_in_base_n():
    from genrep.text.generated.draws import picks
    items = ("x", "y", "z")
    seen = [picks(lambda _strategy, code=code: code.to_bytes(4, "big"), items, 2) for code in range(9)]
    assert seen == [[a, b] for a in items for b in items]  # every pair once: uniform, in order


def test_declared_features_are_really_there():
    _, examples = _collect(st.one_of(hl7_texts(), nll_texts()), 200)
    for g in examples:
        _independent_checks(g)
        assert clinical_features(g.expected) <= set(g.features)


def test_strategies_are_deterministic_under_derandomize():
    first = _collect(hl7_texts(), 40)[1]
    second = _collect(hl7_texts(), 40)[1]
    assert first == second


@pytest.mark.parametrize("call,message", [
    (lambda: clinical_texts(require=("no_such_feature",)), "unknown feature"),
    (lambda: hl7_texts(require=("arrow",), charset="8859/1"), "cannot be written"),
    (lambda: hl7_texts(require=("hex_split",), charset="8859/15"), "cannot be written"),
    (lambda: hl7_texts(require=("fmt_br", "repetition")), "cannot be required together"),
    (lambda: hl7_texts(require=("hex",), wire=False), "wire=False"),
    (lambda: hl7_texts(charset=""), "charset"),
    (lambda: nll_texts(line_break="\t"), "line_break"),
    (lambda: nll_texts(max_length=50), "too short"),
    (lambda: clinical_texts(negation_words=("ingen misstanke",)), "single words"),
    (lambda: nll_texts(require=("conclusion",)), "belong to report texts"),
])
def test_impossible_requests_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------- (f) NLL ---

def _fhir_string_problems(text: str, max_length: int, line_break: str) -> list[str]:
    problems = []
    if not text or not text.strip(" \t\r\n"):
        problems.append("empty or whitespace only")
    if text != text.strip(" \t\r\n"):
        problems.append("leading or trailing whitespace")
    bad = [c for c in text if (ord(c) < 32 and c not in "\t\r\n") or 0x7F <= ord(c) <= 0x9F
           or 0xD800 <= ord(c) <= 0xDFFF]
    if bad:
        problems.append(f"control characters {bad!r}")
    if len(text) > max_length:
        problems.append(f"{len(text)} characters > {max_length}")
    other_breaks = text.replace(line_break, "")
    if "\r" in other_breaks or "\n" in other_breaks:
        problems.append("a line break other than the contract's")
    return problems


@PROPERTY
@given(data=st.data(), max_length=st.sampled_from((NLL_MAX_LENGTH, 256, 200)),
       line_break=st.sampled_from(("\n", "\r\n")))
def test_nll_texts_obey_fhir_string_rules_and_max_length(data, max_length, line_break):
    g = data.draw(nll_texts(max_length=max_length, line_break=line_break))
    assert g.wire is None and g.plain == g.expected
    assert _fhir_string_problems(g.expected, max_length, line_break) == []
    if "at_max_length" in g.features:
        assert len(g.expected) == max_length
    if "bytes_over_max_length" in g.features:
        assert len(g.expected.encode("utf-8")) > max_length >= len(g.expected)


# ------------------------------------------------------------- defaults equal the contracts ---

def test_defaults_equal_the_contracts():
    from genrep.config.contracts import load_nll, load_radiology
    nll = load_nll()
    assert NLL_MAX_LENGTH == nll.element("MedicationRequest.dosageInstruction.patientInstruction").max_length
    assert (NLL_LINE_BREAK,) == nll.line_breaks
    radiology = load_radiology()
    assert tuple(NEGATION_WORDS) == radiology.text_rules().negation_words
    assert radiology.charset in HL7_CHARSETS


@seed(20241105)
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=SLOW_OK, phases=FAST_FAIL)
@given(g=hl7_texts(require=("negation_first_word", "negation_last_word", "blank_line")))
def test_seeded_feature_file_request(g):
    """What a feature file will ask for: generated report texts with given features, seeded."""
    tokens = NEG_TOKEN.findall(g.expected)
    assert tokens[0].casefold() in NEGATION_WORDS and tokens[-1].casefold() in NEGATION_WORDS
    assert re.search(r"(?:^|\n)[ \t]*\n", g.expected)


# ------------------------------------------------------------------------ (g) the conclusion ---

def _stored(expected: str, conclusion: str):
    from genrep.integrations.radiology import Representation, StoredReport
    return StoredReport("r1", "ACC-GEN-1", "final", expected, "1",
                        representations=[Representation("presentedForm[0] (text/plain)", "text/plain", expected)],
                        conclusion=conclusion)


def _flat(text: str) -> str:
    return " ".join(text.split())


@PROPERTY
@given(data=st.data(), charset=st.sampled_from(HL7_CHARSETS))
def test_the_conclusion_paragraph_is_the_conclusion_the_ehr_lifts_out_and_reads_back_clean(data, charset):
    """Report texts end with a "Slutsats:"/"Bedömning:" paragraph; the virtual EHR derives
    DiagnosticReport.conclusion from it; the read-back check accepts it (the oracle stays exact)."""
    from genrep.integrations.radiology import check_read_back
    from genrep.sim.ehr_store import conclusion_of
    from genrep.text.generated.vocabulary import conclusion_paragraph
    g = data.draw(hl7_texts(require=("conclusion_negation",), charset=charset))
    paragraph = conclusion_paragraph(g.expected)
    assert paragraph and re.match(r"\s*(?:slutsats|bedömning)\s*:", paragraph[0], re.I)
    conclusion = conclusion_of(g.expected)  # what the virtual EHR shows
    heading_rest = re.sub(r"^\s*\w+\s*:[ \t]*", "", paragraph[0])
    assert _flat(conclusion) == _flat("\n".join([heading_rest] + paragraph[1:]))
    assert any(w.casefold() in NEGATION_WORDS for w in NEG_TOKEN.findall(conclusion))
    if "conclusion_negation_wrap_column" in g.features:
        assert any(m.start() <= col <= m.end() for line in paragraph for m in _negations(line) for col in WRAP_COLUMNS)
    check = check_read_back(g.expected, _stored(g.expected, conclusion))
    assert check.ok, check.message()


def test_report_texts_mostly_have_a_conclusion_and_nll_texts_never():
    seen, _ = _collect(hl7_texts(), 100)
    assert seen["conclusion"] >= 50 and seen["conclusion_negation"] >= 40 and seen["conclusion_negation_wrap_column"]
    seen, _ = _collect(nll_texts(), 100)
    assert not seen["conclusion"]


def test_a_conclusion_losing_a_negation_inside_it_is_caught():
    from genrep.integrations.radiology import check_read_back
    text = "Fynd: Lungorna är välventilerade.\n\nSlutsats: Lungorna är utan infiltrat och ingen\npleuravätska ses."
    from genrep.sim.ehr_store import conclusion_of, render_views
    assert check_read_back(text, _stored(text, conclusion_of(text))).ok
    dropped = render_views(text, "t", {"radiology-conclusion-negation-dropped": None}).conclusion
    check = check_read_back(text, _stored(text, dropped))
    assert not check.ok and "conclusion_not_in_report" in check.message()


def test_a_conclusion_losing_its_leading_negation_is_caught():
    """Found by the generated conclusion paragraphs (about a third of those with a negation passed):
    'Slutsats: Ingen fraktur.' shown as 'fraktur.' is still *contained in* the sent text; the
    conclusion must be the paragraph under the heading."""
    from genrep.integrations.radiology import check_read_back
    from genrep.sim.ehr_store import render_views
    text = "Fynd: Lungorna är välventilerade.\n\nSlutsats: Ingen fraktur."
    dropped = render_views(text, "t", {"radiology-conclusion-negation-dropped": None}).conclusion
    assert dropped == "fraktur."
    assert not check_read_back(text, _stored(text, dropped)).ok
