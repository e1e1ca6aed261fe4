"""What the virtual EHR reads as a report (genrep.sim.ehr_store, issue 16 part 6), without sockets:
OBX text, NTE notes, ED documents (Base64 and Hex, their MIME type), and why a report is refused."""

from __future__ import annotations

import base64

import pytest

from genrep import hl7
from genrep.sim.ehr_store import attachments_of, refusal, report_text

HEAD = "MSH|^~\\&|RIS|RAD|EHR|REGION|20260101120000||ORU^R01|C1|P|2.5|||||SWE|UNICODE UTF-8\rPID|1||x\rOBR|1||A1|RAD^X"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def message(*segments: str) -> hl7.Message:
    return hl7.parse("\r".join([HEAD, *segments]) + "\r")


def test_obx_text_first_is_accepted_at_once_and_nte_beside_it_are_comments():
    m = message("OBX|1|TX|||Ingen fraktur.", "NTE|1|L|Dikterat av \\T\\ signerat", "OBX|2|TX|||Slutsats: u.a.")
    assert refusal(m) is None
    assert report_text(m) == "Ingen fraktur.\nSlutsats: u.a."
    assert attachments_of(m) == ((), ("Dikterat av & signerat",))


def test_nte_only_is_the_text_with_line_breaks_and_blank_lines():
    m = message("NTE|1|L|Rad ett\\.br\\Rad två", "NTE|2|L|", "NTE|3|L|Slutsats: u.a.~Andra raden")
    assert refusal(m) is None
    assert report_text(m) == "Rad ett\nRad två\n\nSlutsats: u.a.\nAndra raden"
    assert attachments_of(m) == ((), ())


@pytest.mark.parametrize("obx5,content_type", [
    (f"^AP^PDF^Base64^{base64.b64encode(PDF).decode()}", "application/pdf"),
    (f"RIS^application^pdf^Hex^{PDF.hex().upper()}", "application/pdf"),
    (f"^IM^JPEG^Base64^{base64.b64encode(b'jpegbytes').decode()}", "image/jpeg"),
    (f"^TEXT^HTML^Base64^{base64.b64encode(b'<p>x</p>').decode()}", "text/html"),
])
def test_ed_documents_by_encoding_and_type(obx5, content_type):
    m = message(f"OBX|1|ED|PDF^Utlåtande||{obx5}")
    assert refusal(m) is None
    [doc], comments = attachments_of(m)
    assert doc.content_type == content_type and doc.title == "Utlåtande" and comments == ()
    assert report_text(m) == ""


@pytest.mark.parametrize("segments,why", [
    ((), "holds no text"),
    (("OBX|1|TX|||   ", "OBX|2|FT|||\\.br\\~"), "holds no text"),
    (("OBX|1|NM|AORTA^Aorta||34|mm",), "holds no text"),
    (("NTE|1|L|",), "holds no text"),
    (("OBX|1|ED|PDF||^AP^PDF^Base64^",), "the data) is empty"),
    (("OBX|1|ED|PDF||^AP^PDF^Base64^!!",), "not valid Base64"),
    (("OBX|1|ED|PDF||^AP^PDF^Hex^zz",), "not valid Hex"),
    ((f"OBX|1|ED|PDF||^AP^PDF^Base64^{base64.b64encode(b'not a pdf').decode()}",), "%PDF-"),
])
def test_refused_with_the_reason(segments, why):
    assert why in (refusal(message(*segments)) or "")


def test_a_broken_document_beside_text_is_kept_as_a_form_without_data():
    m = message("OBX|1|TX|||Ingen fraktur.", "OBX|2|ED|PDF||^AP^PDF^Base64^!!")
    assert refusal(m) is None  # decided by the first OBX: the document is read with the text
    [doc], _ = attachments_of(m)
    assert doc.data == "" and doc.title.startswith("document not stored: OBX 2: ED data is not valid Base64")
