"""Complete read-back (genrep.integrations.radiology): inline decoding, HTML to text, reading every
representation of a DiagnosticReport (requests-mock) and comparing them with the sent text and each
other (check_read_back)."""

from __future__ import annotations

import base64

import pytest
import requests_mock as rm
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.config.contracts import load_radiology
from genrep.errors import ReadTimeout
from genrep.integrations.radiology import RadiologyClient, Representation, StoredReport, check_read_back
from genrep.text.representations import decode_inline, html_to_text, media_type
from genrep.results.failure_kinds import kinds_in
from genrep.sim.ehr_store import conclusion_of, html_document, render_views
from genrep.text import corpus
from genrep.transport.fhir import FHIRClient
from genrep.transport.http import HttpTransport

BASE = "https://fhir.test.example/r4"
JSON_HDR = {"Content-Type": "application/fhir+json; charset=utf-8"}
TEXT = "DT hjärna.\nIngen blödning.\n\n\tSlutsats: utan anmärkning, åäö."


def b64(text: str, charset: str = "utf-8") -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


# -- inline data ------------------------------------------------------------------------------------

def test_media_type_and_charset():
    assert media_type("Text/HTML; charset=\"ISO-8859-1\"") == ("text/html", "ISO-8859-1")
    assert media_type("text/plain") == ("text/plain", None)
    assert media_type("") == ("", None)


def test_inline_decodes_utf8_by_default_and_the_named_charset():
    assert decode_inline(b64(TEXT), "text/plain") == TEXT
    assert decode_inline(b64(TEXT, "latin-1"), "text/plain; charset=ISO-8859-1") == TEXT
    wrapped = b64(TEXT)
    assert decode_inline(wrapped[:8] + "\n  " + wrapped[8:], "text/plain") == TEXT  # line-wrapped base64


@pytest.mark.parametrize("data,ctype,problem", [
    ("not base64!!", "text/plain", "not valid base64"),
    ("QUJ", "text/plain", "not valid base64"),  # bad padding
    (b64("blödning", "latin-1"), "text/plain", "not valid utf-8"),  # Latin-1 bytes, no charset: UTF-8
    (b64("x"), "text/plain; charset=klingon", "unknown charset 'klingon'"),
    (42, "text/plain", "not a base64 string"),
])
def test_inline_errors_are_value_errors_that_say_why(data, ctype, problem):
    with pytest.raises(ValueError, match=problem):
        decode_inline(data, ctype)


# -- HTML to text -------------------------------------------------------------------------------------

@pytest.mark.parametrize("markup,text", [
    ("a<br>b<br/>c", "a\nb\nc"),
    ("<div>a</div><div>b</div>", "a\nb"),
    ("<p>one</p><p>two</p>", "one\n\ntwo"),
    ("<h1>T</h1>body", "T\n\nbody"),
    ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
    ("<table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>", "x\ty\nz"),
    ("&lt;b&gt; &amp; &quot;q&quot; &#229;&#xe4;&ouml; 5&nbsp;mm", "<b> & \"q\" åäö 5\xa0mm"),
    ("<p>\n   line   one\n   continues  </p>", "line one continues"),
    ("a  <b>bold</b>  b", "a bold b"),
    ("<pre>\n  keep   this\n\tand this</pre>", "  keep   this\n\tand this"),
    ('<div style="white-space: pre-wrap">  two  spaces\nnewline</div>', "  two  spaces\nnewline"),
    ('<div style="white-space:pre-line">a   b\nc</div>', "a b\nc"),
    ("<head><title>t</title><style>p{}</style></head><script>x()</script>shown", "shown"),
    ('<div hidden>secret</div><span style="display: none">no</span>seen', "seen"),
    ("a</span></div>b", "ab"),  # stray end tags change nothing
    ("line\r\nnext", "line next"),
    ("", ""),
])
def test_html_to_text(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize("name", ["dt_thorax", "teleradiologi", "rtg_handled"])
def test_the_virtual_ehrs_html_reads_back_as_the_text(name):
    text = corpus.load_report(name).replace("\r\n", "\n")
    assert html_to_text(html_document(text, "DT <thorax> & mer")) == text


def test_html_round_trip_keeps_blank_lines_spaces_and_markup_as_text():
    text = "\n\n  a  b\t\tc\n\n\n<b>not bold</b> &amp;\nlast  "
    assert html_to_text(html_document(text, "x")) == text


def test_conclusion_is_the_headed_paragraph():
    assert conclusion_of(corpus.load_report("dt_thorax")).startswith("1. Ingen lungemboli.\n2. Oförändrad")
    assert conclusion_of("Fynd: x\nSlutsats: Ingen fraktur.\nKontroll.\n\nSignerad") == "Ingen fraktur.\nKontroll."
    assert conclusion_of("SAMMANFATTNING:\nInga fynd.") == "Inga fynd."
    assert conclusion_of("Fynd: inget att notera") == ""
    assert conclusion_of("Slutsats:\n\nlater") == ""


def test_rendition_defects_change_one_rendition_each():
    text = "\n".join(f"rad {n}" for n in range(1, 31)) + "\nSlutsats: Ingen fraktur, inga fynd."
    clean = render_views(text, "t")
    assert base64.b64decode(clean.inline_data).decode() == text
    assert html_to_text(base64.b64decode(clean.html_data).decode()) == text
    assert clean.conclusion == "Ingen fraktur, inga fynd."
    html = render_views(text, "t", {"radiology-html-drops-lines": 3})
    assert html_to_text(base64.b64decode(html.html_data).decode()) == "rad 1\nrad 2\nrad 3"
    assert html.inline_data == clean.inline_data and html.conclusion == clean.conclusion
    inline = render_views(text, "t", {"radiology-inline-truncated": 10})
    assert base64.b64decode(inline.inline_data) == text.encode()[:10] and inline.html_data == clean.html_data
    assert render_views(text, "t", {"radiology-conclusion-negation-dropped": None}).conclusion == "fraktur, fynd."
    assert render_views("", "t") == type(clean)("", "", "")


# -- comparing the representations -------------------------------------------------------------------

def stored(*reps: Representation, conclusion: str | None = None) -> StoredReport:
    return StoredReport(id="dr-1", accession="A1", status="final",
                        text=next((r.text for r in reps if r.text is not None), ""), version="1",
                        representations=list(reps), conclusion=conclusion)


BINARY = Representation("presentedForm[0] (text/plain, Binary/b1)", "text/plain", text=TEXT)
INLINE = Representation("presentedForm[1] (text/plain, inline)", "text/plain", text=TEXT.replace("\n", "\r\n"))
HTML = Representation("presentedForm[2] (text/html, inline)", "text/html", text=TEXT, markup="<p>...</p>")
PDF = Representation("presentedForm[3] (application/pdf, inline)", "application/pdf")


def test_all_representations_equal_is_ok_and_each_is_a_reading():
    check = check_read_back(TEXT, stored(BINARY, INLINE, HTML, conclusion="utan anmärkning,\nåäö."))
    assert check.ok, check.message()
    names = [n for n, _ in check.readings]
    assert names == ["Text read back: " + BINARY.label, "Text read back: " + INLINE.label,
                     "Text read back: " + HTML.label, "HTML as served: " + HTML.label, "Conclusion read back"]


def test_one_representation_that_differs_is_a_loss_and_a_disagreement():
    short = Representation(HTML.label, "text/html", text="DT hjärna.")
    check = check_read_back(TEXT, stored(BINARY, INLINE, short))
    assert not check.ok
    message = check.message()
    assert message.startswith("Report text differs: ") and f"(in {short.label})" in message.split("\n")[0]
    assert "representations_disagree: " in message
    disagree = next(f for f in check.failures if f.startswith("representations_disagree"))
    assert BINARY.label in disagree and INLINE.label in disagree and short.label in disagree
    assert "truncated" in kinds_in(message) and "representations_disagree" in kinds_in(message)
    assert [name for name, _ in check.diffs] == [f"Diff sent -> {short.label}", f"Diff {BINARY.label} -> {short.label}"]


def test_all_wrong_the_same_way_is_one_loss_and_no_disagreement():
    cut = [Representation(r.label, r.content_type, text="DT hjärna.") for r in (BINARY, INLINE, HTML)]
    check = check_read_back(TEXT, stored(*cut))
    assert len(check.failures) == 1
    assert "(the same in all 3 representations)" in check.failures[0]
    assert set(kinds_in(check.message())) == {"truncated", "lost_negation"}  # "Ingen" was cut off


def test_a_type_not_compared_is_a_note_never_a_pass_on_its_own():
    check = check_read_back(TEXT, stored(BINARY, PDF))
    assert check.ok and check.notes == [f"representation_not_checked: {PDF.label}: application/pdf is not "
                                        "compared (genrep compares text/plain and text/html)"]
    alone = check_read_back(TEXT, stored(PDF))
    assert not alone.ok and kinds_in(alone.message()) == ["representation_not_checked"]
    assert "nothing was verified" in alone.message()


def test_an_unreadable_representation_is_a_finding():
    bad = Representation("presentedForm[1] (text/plain, inline)", "text/plain", problem="data is not valid base64")
    check = check_read_back(TEXT, stored(BINARY, bad))
    assert check.failures == [f"representation_unreadable: {bad.label}: data is not valid base64"]


def test_no_representation_at_all_is_an_empty_text():
    check = check_read_back(TEXT, stored())
    assert "empty" in kinds_in(check.message())


UNHEADED = "DT hjärna.\nIngen blödning.\n\n\tutan anmärkning, åäö."


@pytest.mark.parametrize("conclusion,ok", [
    ("utan anmärkning, åäö.", True),
    ("Ingen  blödning.\n\n\tutan", True),  # line-normalised: whitespace runs are one space
    ("Ingen blö", False),  # cut in mid-word
    ("blödning.", True),  # a summary may be shorter (contained)
    ("Ingen blödning. Inga fynd.", False),
])
def test_without_a_heading_the_conclusion_is_compared_as_contained_in_the_sent_text(conclusion, ok):
    check = check_read_back(UNHEADED, stored(Representation("b", "text/plain", text=UNHEADED), conclusion=conclusion))
    assert check.ok is ok, check.message()
    if not ok:
        assert check.failures[0].startswith("conclusion_not_in_report: ")
        assert len(check.failures) == 1


@pytest.mark.parametrize("conclusion,ok", [
    ("utan anmärkning, åäö.", True),
    ("utan\n  anmärkning,   åäö.", True),  # line-normalised: whitespace runs are one space
    ("anmärkning, åäö.", False),  # lost its first word (a negation): still contained in the text
    ("utan anmärkning,", False),  # lost its last words
    ("blödning.", False),  # another passage of the text is not the conclusion
    ("Ingen blö", False),
])
def test_with_a_heading_the_conclusion_must_be_the_paragraph_under_it(conclusion, ok):
    check = check_read_back(TEXT, stored(BINARY, conclusion=conclusion))
    assert check.ok is ok, check.message()
    if not ok:
        assert check.failures[0].startswith("conclusion_not_in_report: ")
        assert len(check.failures) == 1


def test_a_conclusion_that_lost_a_negation_says_so():
    text = corpus.load_report("dt_thorax")
    check = check_read_back(text, stored(Representation("b", "text/plain", text=text),
                                         conclusion="1. lungemboli.\n2. Oförändrad 4 mm nodulus"))
    assert len(check.failures) == 1 and check.failures[0].startswith("conclusion_not_in_report: ")
    assert "lost_negation" in kinds_in(check.message())


# -- reading every representation (requests-mock) ---------------------------------------------------

@pytest.fixture
def client():
    t = HttpTransport(BASE, connect_timeout=1.5, read_timeout=4.0, check_host=lambda host: None)
    c = RadiologyClient.__new__(RadiologyClient)
    c.contract, c.fhir = load_radiology(), FHIRClient(t)
    yield c
    t.close()


def report(forms, **extra) -> dict:
    return {"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final", "code": {"text": "DT"},
            "identifier": [{"value": "A1"}], "presentedForm": forms, **extra}


def test_every_form_and_the_observations_are_read(client):
    markup = html_document(TEXT, "DT")
    forms = [{"contentType": "text/plain", "url": "Binary/b1"},
             {"contentType": "text/plain; charset=ISO-8859-1", "data": b64(TEXT, "latin-1"), "url": "Binary/b2"},
             {"contentType": "text/html; charset=utf-8", "data": b64(markup)},
             {"contentType": "application/pdf", "url": "Binary/pdf"},
             {"contentType": "text/plain", "data": "@@@"},
             {"title": "no text"}]
    obs = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "t"}, "valueString": "DT hjärna."}
    contained = {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "t"},
                 "valueString": "Ingen blödning.\n\n\tSlutsats: utan anmärkning, åäö."}
    quantity = {"resourceType": "Observation", "id": "o3", "status": "final", "code": {"text": "t"},
                "valueQuantity": {"value": 4, "unit": "mm"}}
    res = report(forms, contained=[contained], conclusion="utan anmärkning, åäö.",
                 result=[{"reference": "Observation/o1"}, {"reference": "#o2"}, {"reference": "Observation/o3"}])
    with rm.Mocker() as m:
        m.get(f"{BASE}/Binary/b1", content=TEXT.encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
        m.get(f"{BASE}/Binary/b2", content=TEXT.encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
        m.get(f"{BASE}/Observation/o1", json=obs, headers=JSON_HDR)
        m.get(f"{BASE}/Observation/o3", json=quantity, headers=JSON_HDR)
        got = client._stored(res, "A1")
        assert not any("pdf" in r.url for r in m.request_history)  # a type not compared is not fetched
    by_label = {r.label: r for r in got.representations}
    assert list(by_label) == [
        "presentedForm[0] (text/plain, Binary/b1)", "presentedForm[1] (text/plain, inline)",
        "presentedForm[1] (text/plain, Binary/b2)", "presentedForm[2] (text/html, inline)",
        "presentedForm[3] (application/pdf, Binary/pdf)", "presentedForm[4] (text/plain, inline)",
        "presentedForm[5] (text/plain)", "Observation.valueString (2 linked by result)"]
    assert [r.status for r in got.representations] == ["compared"] * 4 + ["not checked", "unreadable",
                                                                          "unreadable", "compared"]
    assert got.text == TEXT and got.conclusion == "utan anmärkning, åäö."
    assert got.representations[3].markup == markup
    assert got.notes == ["result[2] (Observation/o3): no valueString (not text): not compared"]
    check = client.check(TEXT, got)
    assert kinds_in(check.message()) == ["representation_unreadable"]
    assert len(check.failures) == 2 and len(check.notes) == 2


def test_a_missing_binary_is_unreadable_but_a_timeout_goes_on_up(client):
    res = report([{"contentType": "text/plain", "url": "Binary/gone"}])
    with rm.Mocker() as m:
        m.get(f"{BASE}/Binary/gone", status_code=404, json={"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "not-found", "diagnostics": "no such Binary"}]}, headers=JSON_HDR)
        got = client._stored(res, "A1")
    assert got.representations[0].status == "unreadable" and "404" in got.representations[0].problem
    with rm.Mocker() as m:
        m.get(f"{BASE}/Binary/gone", exc=ReadTimeout("no answer within 4 s"))
        with pytest.raises(ReadTimeout):
            client._stored(res, "A1")


def test_a_missing_observation_is_unreadable(client):
    res = report([{"contentType": "text/plain", "data": b64(TEXT)}], result=[{"reference": "Observation/x"}])
    with rm.Mocker() as m:
        m.get(f"{BASE}/Observation/x", status_code=404, json={"resourceType": "OperationOutcome", "issue": []},
              headers=JSON_HDR)
        got = client._stored(res, "A1")
    assert [r.status for r in got.representations] == ["compared", "unreadable"]


# -- properties ----------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_survives_the_virtual_ehrs_html(text):
    assert html_to_text(html_document(text, "t")) == text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/&;#!-= \n\tabpdivbrx\"'"), max_size=120))
def test_any_markup_gives_text_never_an_exception(markup):
    assert isinstance(html_to_text(markup), str)
