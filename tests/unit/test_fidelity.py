"""Unit tests for genrep.text.fidelity: sent vs stored report text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from genrep.text.fidelity import (
    KINDS,
    NEGATION_WORDS,
    FidelityResult,
    Finding,
    TextRules,
    compare,
    normalise,
)

REPORT = (
    "DT hjärna utan kontrast.\n"
    "Inga tecken på blödning.\n"
    "Ingen fraktur.\n"
    "Ventrikelsystemet är normalt.\n"
    "\n"
    "Slutsats: Ingen intrakraniell blödning."
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def finding(result: FidelityResult, kind: str) -> Finding:
    matches = [f for f in result.findings if f.kind == kind]
    assert matches, f"expected {kind}, got {result.kinds}:\n{result.summary()}"
    return matches[0]


# --------------------------------------------------------------------------------------------
# Equality under normalisation
# --------------------------------------------------------------------------------------------


class TestEqual:
    def test_identical_is_ok_with_no_findings(self):
        r = compare(REPORT, REPORT)
        assert r.ok and r.findings == [] and r.severity is None and r.kinds == []
        assert r.summary() == f"Report text stored intact (6 lines, {len(REPORT)} characters)"
        assert r.diff() == ""

    def test_crlf_and_cr_and_unicode_separators_equal_lf(self):
        assert compare(REPORT, REPORT.replace("\n", "\r\n")).ok
        assert compare(REPORT, REPORT.replace("\n", "\r")).ok
        assert compare(REPORT, REPORT.replace("\n", "\u2028")).ok
        assert compare(REPORT.replace("\n", "\u2029"), REPORT).ok

    def test_nfd_equals_nfc(self):
        nfd = unicodedata.normalize("NFD", REPORT)
        assert nfd != REPORT
        r = compare(REPORT, nfd)
        assert r.ok and not r.findings

    def test_trailing_spaces_and_trailing_blank_lines_ignored(self):
        stored = "\n".join(line + "   " for line in REPORT.split("\n")) + "\n\n\n"
        assert compare(REPORT, stored).ok
        assert compare(REPORT + "\n", REPORT).ok

    def test_leading_spaces_are_content(self):
        r = compare("Slutsats:\n  Ingen fraktur.", "Slutsats:\nIngen fraktur.")
        assert not r.ok
        assert r.kinds == ["whitespace_changed"] and r.severity == "low"

    def test_normalise(self):
        rules = TextRules()
        assert normalise("a \r\nb\t\r\n\r\n", rules) == "a\nb"
        assert normalise("a\u030a", rules) == "å"
        raw = TextRules(line_endings=False, unicode_form=None, strip_trailing_whitespace=False,
                        strip_trailing_blank_lines=False)
        assert normalise("a \r\nb\n", raw) == "a \r\nb\n"
        # line endings kept: the \r is not stripped as trailing whitespace
        assert normalise("a \r\nb", TextRules(line_endings=False)) == "a \r\nb"


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


class TestRules:
    def test_defaults(self):
        r = TextRules()
        assert r.negation_words == NEGATION_WORDS
        assert "ingen" in NEGATION_WORDS and "inga" in NEGATION_WORDS

    def test_from_mapping(self):
        r = TextRules.from_mapping({"unicode_form": None, "negation_words": ["Ingen", "ej"],
                                    "strip_trailing_whitespace": False})
        assert r.unicode_form is None
        assert r.negation_words == ("ingen", "ej")
        assert r.strip_trailing_whitespace is False
        assert TextRules.from_mapping({}) == TextRules()
        assert TextRules.from_mapping(None) == TextRules()

    def test_from_mapping_unknown_key_named(self):
        with pytest.raises(ValueError, match="strip_trailing_spaces"):
            TextRules.from_mapping({"strip_trailing_spaces": True})

    @pytest.mark.parametrize("data", [
        {"unicode_form": "NFX"},
        {"line_endings": "yes"},
        {"negation_words": "ingen"},
        {"negation_words": ["inte alls"]},
    ])
    def test_from_mapping_bad_values(self, data):
        with pytest.raises(ValueError):
            TextRules.from_mapping(data)

    def test_raw_unicode_mode_reports_form_difference_only(self):
        rules = TextRules(unicode_form=None)
        r = compare(REPORT, unicodedata.normalize("NFD", REPORT), rules)
        assert not r.ok
        assert r.kinds == ["unicode_normalisation"] and r.severity == "low"

    def test_bytes_are_refused(self):
        with pytest.raises(TypeError):
            compare(b"Ingen fraktur.", "Ingen fraktur.")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Each kind
# --------------------------------------------------------------------------------------------


class TestNegation:
    def test_lost_ingen_is_critical_and_quoted(self):
        sent = "Det finns ingen fraktur i handleden.\nSlutsats: normalt."
        stored = "Det finns fraktur i handleden.\nSlutsats: normalt."
        r = compare(sent, stored)
        f = finding(r, "lost_negation")
        assert r.kinds[0] == "lost_negation"
        assert f.severity == "critical" and r.severity == "critical"
        assert '"ingen"' in f.message
        assert "1 time in the sent text, 0 times in the stored text" in f.message
        assert "ingen fraktur" in f.message and "finns fraktur" in f.message
        assert f.details["lost"] == {"ingen": 1}
        assert f.details["sent_line"] == 1
        assert '"ingen"' in r.summary()
        assert "[lost_negation/critical]" in r.summary()

    def test_count_per_word_case_insensitive(self):
        sent = "Ingen fraktur.\nIngen luxation.\nInga tecken på blödning."
        stored = "Ingen fraktur.\nluxation.\nInga tecken på blödning."
        f = finding(compare(sent, stored), "lost_negation")
        assert '"ingen" appears 2 times in the sent text, 1 time in the stored text' in f.message
        assert f.details["words"] == {"ingen": {"sent": 2, "stored": 1}}

    def test_negation_alone_on_a_line_dropped(self):
        sent = "Vid undersökningen ses\ninga\ntecken på blödning."
        stored = "Vid undersökningen ses\ntecken på blödning."
        r = compare(sent, stored)
        assert r.kinds[:2] == ["lost_negation", "missing_lines"]

    def test_negation_survives_line_join(self):
        # lines ran together, but "Ingen" is still a separate word: not a lost negation
        r = compare("Fraktur?\nIngen fraktur.", "Fraktur?Ingen fraktur.")
        assert "lost_negation" not in r.kinds
        assert {"line_breaks_lost", "merged_words"} <= set(r.kinds)

    def test_negation_merged_into_other_word_is_lost(self):
        r = compare("Slutsats:\ningen fraktur.", "Slutsats:ingen fraktur.")
        assert "lost_negation" not in r.kinds  # "Slutsats:ingen" still tokenises to "ingen"
        r = compare("Normal\ningen fraktur.", "Normalingen fraktur.")
        assert r.kinds[0] == "lost_negation"
        assert "merged_words" in r.kinds

    def test_custom_negation_words(self):
        rules = TextRules(negation_words=("saknas",))
        r = compare("Patologi saknas.", "Patologi.", rules)
        assert r.severity == "critical"


class TestTruncation:
    def test_truncated_mid_word(self):
        cut = REPORT.index("blödning") + 2  # "...Inga tecken på bl"
        r = compare(REPORT, REPORT[:cut])
        f = finding(r, "truncated")
        assert f.severity == "high"
        assert f.details["at"] == cut
        assert f.details["sent_length"] == len(REPORT)
        assert f.details["lost_characters"] == len(REPORT) - cut
        assert f.details["lost_lines"] == 5
        assert f.details["mid_word"] is True
        assert f"Text truncated at character {cut} of {len(REPORT)}" in f.message
        assert 'ends with "DT hjärna utan kontrast. / Inga tecken på bl"' in f.message
        assert '"blödning."' in f.message
        assert "lost_negation" in r.kinds  # the cut-off part held "Ingen"/"Inga"

    def test_truncated_at_line_end(self):
        stored = "\n".join(REPORT.split("\n")[:3]) + "\n"
        f = finding(compare(REPORT, stored), "truncated")
        assert f.details["lost_lines"] == 3
        assert f.details["mid_word"] is False

    def test_truncation_inside_decomposed_character(self):
        sent = unicodedata.normalize("NFD", "Inga tecken på blödning")
        cut = sent.index("a\u030a") + 1  # keep the "a", lose the ring and the rest
        r = compare(sent, sent[:cut])
        assert "truncated" in r.kinds

    def test_byte_limit_hint(self):
        sent = "å" * 300
        r = compare(sent, sent[:255])
        f = finding(r, "truncated")
        assert f.details["suspected_limit"] == 255

    def test_empty(self):
        r = compare(REPORT, "")
        assert "empty" in r.kinds and "truncated" not in r.kinds
        assert finding(r, "empty").severity == "high"
        assert r.kinds[0] == "lost_negation"
        assert compare("Normalt.", " \n\t\n").kinds == ["empty"]


class TestLineBreaks:
    def test_lines_ran_together_without_separator(self):
        sent = "Ingen fraktur.\nInga tecken på blödning."
        r = compare(sent, "Ingen fraktur.Inga tecken på blödning.")
        assert r.kinds == ["line_breaks_lost", "merged_words"]
        lb = finding(r, "line_breaks_lost")
        assert lb.severity == "high" and lb.details["lost"] == 1
        assert lb.details["joined_after_sent_lines"] == [1]
        mw = finding(r, "merged_words")
        assert mw.severity == "high"
        assert mw.details["words"][0]["stored"] == "fraktur.Inga"
        assert mw.details["words"][0]["sent"] == ["fraktur.", "Inga"]
        assert '"fraktur.Inga"' in mw.message

    def test_lines_joined_with_space(self):
        r = compare("Ingen fraktur.\nInga tecken på blödning.",
                    "Ingen fraktur. Inga tecken på blödning.")
        assert r.kinds == ["line_breaks_lost"]

    def test_blank_paragraph_line_removed(self):
        r = compare("Fynd: normalt.\n\nSlutsats: normalt.", "Fynd: normalt.\nSlutsats: normalt.")
        f = finding(r, "line_breaks_lost")
        assert "blank line" in f.message

    def test_lines_split(self):
        r = compare("Inga tecken på blödning eller infarkt.",
                    "Inga tecken på blödning\neller infarkt.")
        assert r.kinds == ["line_breaks_added"]
        assert finding(r, "line_breaks_added").severity == "medium"

    def test_word_split(self):
        r = compare("Inga tecken på blödning.", "Inga tecken på blöd\nning.")
        assert r.kinds == ["line_breaks_added", "split_words"]
        f = finding(r, "split_words")
        assert f.severity == "high"
        assert f.details["words"][0] == {"sent": "blödning.", "sent_line": 1,
                                         "stored": ["blöd", "ning."], "stored_lines": [1, 2]}

    def test_local_merge_amid_other_lines(self):
        sent = "Rad ett.\nRad två.\nRad tre.\nRad fyra.\nRad fem."
        stored = "Rad ett.\nRad två.Rad tre.\nRad fyra.\nRad fem."
        r = compare(sent, stored)
        assert r.kinds == ["line_breaks_lost", "merged_words"]
        assert finding(r, "line_breaks_lost").details["joined_after_sent_lines"] == [2]

    def test_rewrapped(self):
        sent = "Inga tecken på\nblödning eller infarkt."
        stored = "Inga tecken\npå blödning eller infarkt."
        r = compare(sent, stored)
        assert {"line_breaks_lost", "line_breaks_added"} <= set(r.kinds)
        assert "lost_words" not in r.kinds


class TestLines:
    def test_missing_line(self):
        lines = REPORT.split("\n")
        stored = "\n".join(lines[:2] + lines[3:])
        r = compare(REPORT, stored)
        f = finding(r, "missing_lines")
        assert f.details == {"sent_lines": [3], "count": 1, "at_end": False}
        assert '"Ingen fraktur."' in f.message
        assert r.kinds[0] == "lost_negation"
        assert "lost_words" not in r.kinds  # explained by the missing line

    def test_missing_last_lines(self):
        sent = "Rad ett.\nRad två.\nRad tre."
        r = compare(sent, "Rad ett.\nXYZ.")
        f = finding(r, "missing_lines")
        assert f.details["sent_lines"] == [2, 3] or f.details["at_end"]

    def test_extra_line(self):
        lines = REPORT.split("\n")
        stored = "\n".join(lines[:2] + ["Tillägg: se bilaga."] + lines[2:])
        r = compare(REPORT, stored)
        assert r.kinds == ["extra_lines"]
        f = finding(r, "extra_lines")
        assert f.severity == "medium" and f.details["stored_lines"] == [3]

    def test_reordered(self):
        lines = REPORT.split("\n")
        stored = "\n".join([lines[-1]] + lines[:-2])  # conclusion first, blank line dropped
        r = compare(REPORT, stored)
        assert r.kinds == ["reordered_lines", "missing_lines"]
        assert finding(r, "missing_lines").details["sent_lines"] == [5]
        f = finding(r, "reordered_lines")
        assert f.details["moved"] == [{"sent_line": 6, "stored_line": 1}]
        assert f.severity == "high"
        assert "Slutsats" in f.message

    def test_pure_reorder(self):
        r = compare("Rad A.\nRad B.\nRad C.", "Rad C.\nRad A.\nRad B.")
        assert r.kinds == ["reordered_lines"]

    def test_many_lines_one_dropped(self):
        sent = "\n".join(f"Rad {n}: inga anmärkningar." for n in range(1, 1201))
        lines = sent.split("\n")
        del lines[599]
        r = compare(sent, "\n".join(lines))
        assert "missing_lines" in r.kinds and "lost_negation" in r.kinds
        assert finding(r, "missing_lines").details["sent_lines"] == [600]


class TestWords:
    def test_lost_word(self):
        r = compare("Fraktur i vänster radius.", "Fraktur i radius.")
        assert r.kinds == ["lost_words"]
        f = finding(r, "lost_words")
        assert '"vänster"' in f.message and f.details["words"] == ["vänster"]

    def test_changed_word(self):
        r = compare("Fraktur i vänster radius.", "Fraktur i höger radius.")
        assert r.kinds == ["lost_words", "added_words"]
        assert finding(r, "added_words").severity == "medium"

    def test_punctuation_change_is_changed_text(self):
        r = compare("Höger: 5 mm.", "Höger: 5 mm,")
        assert r.kinds == ["changed_text"] and r.severity == "high"


class TestCharacters:
    def test_mojibake_utf8_read_as_latin1(self):
        sent = "Inga tecken på blödning.\nSlutsats: ÅÄÖ normalt."
        stored = sent.encode("utf-8").decode("cp1252", errors="replace")
        assert "Ã¥" in stored
        r = compare(sent, stored)
        assert r.kinds == ["mojibake"]
        f = finding(r, "mojibake")
        assert f.severity == "high"
        assert 'Characters garbled (mojibake): "Ã¥" where "å" was sent (line 1' in f.message
        assert '"pÃ¥"' in f.message

    def test_mojibake_latin1_decoder(self):
        sent = "Ödem i vänster lunga."
        stored = sent.encode("utf-8").decode("latin-1")
        r = compare(sent, stored)
        assert r.kinds == ["mojibake"]

    def test_windows_1252_read_as_latin1(self):
        sent = "Utlåtande – se nedan."
        stored = sent.replace("–", "\x96")  # cp1252 en dash byte decoded as Latin-1
        r = compare(sent, stored)
        assert r.kinds == ["mojibake"]
        f = finding(r, "mojibake")
        assert '"<U+0096>" where "–" was sent' in f.message and "Windows-1252" in f.message

    def test_mojibake_present_in_sent_is_not_flagged(self):
        text = "Filnamn: rapport_Ã¥.txt"
        assert compare(text + " a", text + " b").kinds != ["mojibake"]
        assert "mojibake" not in compare(text + " a", text + " b").kinds

    def test_replacement_character(self):
        sent = "Inga tecken på blödning."
        stored = sent.encode("utf-8").decode("ascii", errors="replace")
        r = compare(sent, stored)
        assert r.kinds[0] == "mojibake"
        assert "\ufffd" in finding(r, "mojibake").message

    def test_combining_mark_dropped(self):
        sent = unicodedata.normalize("NFD", "Inga tecken på blödning.")
        stored = sent.replace("\u030a", "")
        r = compare(sent, stored)
        assert r.kinds == ["combining_marks_lost"]
        f = finding(r, "combining_marks_lost")
        assert f.severity == "high"
        assert f.details["pairs"] == [{"sent": "på", "stored": "pa"}]

    def test_combining_mark_dropped_raw_mode(self):
        sent = unicodedata.normalize("NFD", "Blödning i höger hemisfär.")
        stored = sent.replace("\u0308", "")
        r = compare(sent, stored, TextRules(unicode_form=None))
        assert "combining_marks_lost" in r.kinds

    def test_whitespace_changed(self):
        r = compare("Höger\tlunga:  normal.", "Höger lunga:\u00a0normal.")
        assert r.kinds == ["whitespace_changed"] and r.severity == "low"
        assert "<TAB>" in r.findings[0].message


# --------------------------------------------------------------------------------------------
# Result API
# --------------------------------------------------------------------------------------------


class TestResult:
    def test_summary_and_diff(self):
        r = compare("Ingen fraktur.\nSlutsats: normalt.", "fraktur.\nSlutsats: normalt.")
        lines = r.summary().split("\n")
        assert lines[0] == "Report text differs: lost_negation, lost_words"
        assert lines[1].startswith("- [lost_negation/critical] Negation lost:")
        assert lines[2].startswith("- [lost_words/high] ")
        d = r.diff()
        assert d.startswith("--- sent\n+++ stored")
        assert "-Ingen fraktur." in d and "+fraktur." in d

    def test_findings_use_known_kinds_and_severities(self):
        r = compare(REPORT, "Ingen fraktur.Inga\n" + "Ã¥")
        for f in r.findings:
            assert f.kind in KINDS and f.severity == KINDS[f.kind]
        assert r.severity == "critical"

    def test_raw_inputs_kept(self):
        r = compare("a\r\n", "b")
        assert r.sent == "a\r\n" and r.stored == "b"


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_LINE_CHARS = st.characters(blacklist_categories=("Cs",),
                            blacklist_characters="\r\n\u2028\u2029")
_WORD_CHARS = st.characters(whitelist_categories=("Lu", "Ll", "Nd"))


@FAST
@given(st.text())
def test_property_identical_is_ok(text):
    r = compare(text, text)
    assert r.ok and not r.findings


@FAST
@given(st.text(min_size=2), st.data())
def test_property_truncation_is_never_ok(text, data):
    pos = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    stored = text[:pos]
    assume(normalise(stored, TextRules()) != normalise(text, TextRules()))
    r = compare(text, stored)
    assert not r.ok
    assert "truncated" in r.kinds or "empty" in r.kinds, r.summary()


@FAST
@given(st.lists(st.text(_WORD_CHARS, min_size=1, max_size=8), max_size=8),
       st.sampled_from(NEGATION_WORDS), st.sampled_from([str.lower, str.upper, str.capitalize]),
       st.data())
def test_property_removing_a_negation_is_critical(words, neg, case, data):
    where = data.draw(st.integers(min_value=0, max_value=len(words)))
    tokens = words[:where] + [case(neg)] + words[where:]
    sent = " ".join(tokens)
    stored = " ".join(tokens[:where]) + " " + " ".join(tokens[where + 1:])
    r = compare(sent, stored)
    assert "lost_negation" in r.kinds
    assert r.severity == "critical"
    assert finding(r, "lost_negation").severity == "critical"


@FAST
@given(st.lists(st.text(_LINE_CHARS, min_size=1, max_size=20), min_size=2, max_size=6))
def test_property_joined_lines_lose_line_breaks(lines):
    assume(all(line.strip() for line in lines))
    sent = "\n".join(lines)
    r = compare(sent, sent.replace("\n", ""))
    assert not r.ok
    assert "line_breaks_lost" in r.kinds, r.summary()


@FAST
@given(st.text(max_size=60), st.text(max_size=60))
def test_property_any_pair_classifies(sent, stored):
    r = compare(sent, stored)
    assert r.ok == (normalise(sent, TextRules()) == normalise(stored, TextRules()))
    assert r.ok == (not r.findings)
    for f in r.findings:
        assert f.kind in KINDS and f.severity == KINDS[f.kind] and f.message


def test_large_report_smoke():
    """Large input (>100 KB, 1,500 lines) with a few changes; correctness only, no timing."""
    lines = [f"Rad {n}: inga tecken på blödning, ingen fraktur, normala förhållanden."
             for n in range(1500)]
    sent = "\n".join(lines)
    assert len(sent.encode()) > 100_000
    changed = lines[:]
    changed[10] = changed[10].replace("ingen ", "")
    del changed[700]
    changed.insert(1200, "Extra.")
    r = compare(sent, "\n".join(changed))
    assert r.kinds[0] == "lost_negation"
    assert {"missing_lines", "extra_lines"} <= set(r.kinds)
    assert finding(r, "lost_negation").details["sent_line"] == 11


@pytest.mark.parametrize("invisible", ["\u00ad", "\u200b", "\u2060"])
def test_a_negation_carrying_an_invisible_character_is_still_a_negation(invisible):
    """A soft hyphen or zero-width character inside "ingen" splits it for a tokenizer, not for a
    reader: losing that word is a lost negation (critical), not a lost word."""
    result = compare(f"In{invisible}gen fraktur.", "Fraktur.")
    assert [f.kind for f in result.findings][0] == "lost_negation"
    assert not compare(f"In{invisible}gen fraktur.", f"In{invisible}gen fraktur.").findings
