"""The virtual EHR as the correct receiver it stands for (issue 16, part 6), over real sockets: a report
sent as NTE segments is stored with their text; NTE beside OBX text are comments (the Observation's
note), not report text; an ED OBX (a PDF, Base64) is served as a presentedForm application/pdf that
the read-back reports "not checked" and never passes on its own; a report with no text at all is
refused (AE), not acknowledged and stored empty."""

from __future__ import annotations

import base64

import pytest

from genrep import hl7
from genrep.integrations.radiology import new_accession
from genrep.paths import PROJECT_ROOT
from genrep.results.failure_kinds import kinds_in

from .conftest import fhir_get, reports_for

PDF = (PROJECT_ROOT / "fixtures" / "interop" / "report.pdf").read_bytes()
PDF_B64 = base64.b64encode(PDF).decode("ascii")


def message_with(rad, patient, body: list[str], *, accession: str | None = None) -> tuple[str, str]:
    """(accession, an ORU^R01 built by genrep with its OBX segments replaced by ``body``)."""
    accession = accession or new_accession()
    built = rad.build_report(patient, hl7.Report(accession=accession, text="x"))
    segments = [s for s in built.split("\r") if s and not s.startswith("OBX|")]
    return accession, "\r".join(segments + body) + "\r"


def send(rad, patient, body: list[str]):
    assert rad.register(patient).ack.code == "AA"
    accession, message = message_with(rad, patient, body)
    return accession, rad.send_message(message)


def read_one(rad, accession):
    reports, _ = rad.read_back(accession)
    assert len(reports) == 1
    return reports[0]


def test_a_report_sent_as_nte_segments_is_stored_with_their_text(ehr, rad, patient):
    text = "DT hjärna utan kontrast.\nIngen blödning & ingen infarkt.\n\nSlutsats: normal undersökning."
    body = ["NTE|1|L|DT hjärna utan kontrast.", "NTE|2|L|Ingen blödning \\T\\ ingen infarkt.", "NTE|3|L|",
            "NTE|4|L|Slutsats: normal undersökning."]
    accession, ex = send(rad, patient, body)
    assert ex.ack.code == "AA", ex.ack.text
    stored = read_one(rad, accession)
    assert stored.text == text
    check = rad.check(text, stored)
    assert check.ok, check.message()
    assert stored.conclusion == "normal undersökning."


def test_nte_with_ft_line_breaks_and_repetitions(ehr, rad, patient):
    body = ["NTE|1|L|Lungröntgen.\\.br\\Inga infiltrat.~Hjärtstorlek normal."]
    accession, ex = send(rad, patient, body)
    assert ex.ack.code == "AA"
    assert read_one(rad, accession).text == "Lungröntgen.\nInga infiltrat.\nHjärtstorlek normal."


def test_nte_beside_obx_text_are_comments_not_report_text(ehr, rad, patient):
    body = ["OBX|1|TX|RAD^Röntgen|1|Ingen fraktur.||||||F", "NTE|1|L|Dikterat av Dr Exempel",
            "OBX|2|TX|RAD^Röntgen|1|Normala skelettförhållanden.||||||F"]
    accession, ex = send(rad, patient, body)
    assert ex.ack.code == "AA"
    stored = read_one(rad, accession)
    assert stored.text == "Ingen fraktur.\nNormala skelettförhållanden."
    assert rad.check("Ingen fraktur.\nNormala skelettförhållanden.", stored).ok
    _profile, info = ehr
    obs = fhir_get(info, stored.resource["result"][0]["reference"]).json()
    assert obs["note"] == [{"text": "Dikterat av Dr Exempel"}]


def test_a_pdf_only_report_is_served_as_pdf_and_never_passes_on_its_own(ehr, rad, patient):
    accession, ex = send(rad, patient, [f"OBX|1|ED|PDF^Utlåtande||RIS^application^pdf^Base64^{PDF_B64}||||||F"])
    assert ex.ack.code == "AA", ex.ack.text
    stored = read_one(rad, accession)
    forms = stored.resource["presentedForm"]
    assert [f["contentType"] for f in forms] == ["application/pdf"] and forms[0]["title"] == "Utlåtande"
    assert base64.b64decode(forms[0]["data"]) == PDF
    assert "result" not in stored.resource
    check = rad.check("Lungröntgen: ingen pneumoni.", stored)
    assert not check.ok and kinds_in(check.message()) == ["representation_not_checked"]
    assert "nothing was verified" in check.message()


def test_text_and_pdf_pass_on_the_text_with_the_pdf_not_checked(ehr, rad, patient):
    body = ["OBX|1|TX|RAD^Röntgen|1|Lungröntgen: ingen pneumoni.||||||F",
            f"OBX|2|ED|PDF^Utlåtande||^AP^PDF^Base64^{PDF_B64}||||||F"]
    accession, ex = send(rad, patient, body)
    assert ex.ack.code == "AA"
    stored = read_one(rad, accession)
    assert [f["contentType"] for f in stored.resource["presentedForm"]] == [
        "text/plain; charset=utf-8", "text/plain; charset=utf-8", "text/html; charset=utf-8", "application/pdf"]
    check = rad.check("Lungröntgen: ingen pneumoni.", stored)
    assert check.ok, check.message()
    assert [n.split(":")[0] for n in check.notes] == ["representation_not_checked"]


def test_a_pdf_split_over_repetitions_is_one_document(ehr, rad, patient):
    half = len(PDF_B64) // 2
    accession, ex = send(rad, patient, [f"OBX|1|ED|PDF^Utlåtande||^AP^PDF^Base64^{PDF_B64[:half]}~^^^^"
                                        f"{PDF_B64[half:]}||||||F"])
    assert ex.ack.code == "AA", ex.ack.text
    assert base64.b64decode(read_one(rad, accession).resource["presentedForm"][0]["data"]) == PDF


@pytest.mark.parametrize("body,why", [
    ([], "holds no text"),
    (["OBX|1|TX|RAD^Röntgen|1|||||||F", "OBX|2|TX|RAD^Röntgen|2|  ||||||F"], "holds no text"),
    (["OBX|1|FT|RAD^Röntgen|1|\\.br\\\\.br\\||||||F", "NTE|1|L|"], "holds no text"),
    (["OBX|1|NM|AORTA^Aortadiameter|1|32|mm|||||F"], "holds no text"),
    (["OBX|1|ED|PDF^Utlåtande||^AP^PDF^Base64^@@not base64@@||||||F"], "not valid Base64"),
    ([f"OBX|1|ED|PDF^Utlåtande||^AP^PDF^Base64^{base64.b64encode(b'hello').decode()}||||||F"], "%PDF-"),
    (["OBX|1|ED|PDF^Utlåtande||^AP^PDF^Uuencode^abc||||||F"], "Uuencode"),
])
def test_a_report_without_text_or_with_a_broken_document_is_refused_and_not_stored(ehr, rad, patient, body, why):
    accession, ex = send(rad, patient, body)
    assert ex.ack.code == "AE" and why in ex.ack.text, ex.ack.text
    _profile, info = ehr
    assert reports_for(info, accession) == []


def test_a_broken_document_beside_text_is_shown_unreadable_never_dropped(ehr, rad, patient):
    """An ED after text is decoded when the report is first read (off the ACK path, like the
    text): the EHR accepts the text and shows the document it could not store as a form with no
    data, which the read-back reports unreadable."""
    body = ["OBX|1|TX|RAD^Röntgen|1|Lungröntgen: ingen pneumoni.||||||F",
            "OBX|2|ED|PDF^Utlåtande||^AP^PDF^Base64^@@not base64@@||||||F"]
    accession, ex = send(rad, patient, body)
    assert ex.ack.code == "AA"
    stored = read_one(rad, accession)
    assert stored.resource["presentedForm"][-1]["title"].startswith("document not stored: OBX 2: ED data is not valid")
    check = rad.check("Lungröntgen: ingen pneumoni.", stored)
    assert kinds_in(check.message()) == ["representation_unreadable"]
