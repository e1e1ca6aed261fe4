"""What the virtual EHR reads out of an ORU^R01 as a report: its text (OBX, or NTE lines when no OBX
holds text), its ED documents (a PDF ...), its NTE comments, and why a message is no report it can
store (``refusal``).

Its own module because it is pure message reading (no state, no sockets): ``ehr_store`` applies a
message to the records and calls these to decide AE or AA and to render the text on first read;
``tests/unit/test_ehr_receiver_content.py`` checks them without a running EHR. ``genrep.sim.ehr_store``
re-exports the public names.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from genrep import hl7
from genrep.errors import HL7Error
from genrep.hl7.parse import CODED_TYPES, TEXT_TYPES


@dataclass(frozen=True, slots=True)
class Document:
    """An encapsulated document of a report (an ED OBX): shown as a presentedForm of its own type."""

    content_type: str  # e.g. application/pdf
    data: str  # base64 of the document's bytes
    title: str


_TEXT_VALUE_TYPES = TEXT_TYPES | CODED_TYPES  # OBX-2 values whose OBX-5 is report text (hl7.report_text)
#: ED type of data (HL7 table 0191, or a MIME type) -> the MIME top-level type
_ED_TYPES = {"ap": "application", "application": "application", "im": "image", "image": "image",
             "tx": "text", "text": "text", "au": "audio", "audio": "audio", "multipart": "multipart",
             "video": "video"}


def _holds_text(message, raw: str) -> bool:
    """A raw value holds text: more than whitespace, separators and formatting commands."""
    if message.delimiters.escape in raw:
        raw = message.unescape(raw)
    return bool(raw.replace(message.delimiters.repetition, "").strip())


def _obx_holds_text(message, obx) -> bool:
    d = message.delimiters
    value_type = obx.field(2).split(d.repetition, 1)[0].split(d.component, 1)[0].strip().upper()
    return value_type in _TEXT_VALUE_TYPES and _holds_text(message, obx.field(5))


def _document(message, obx, number: int) -> Document:
    """An ED OBX-5 (source ^ type of data ^ subtype ^ encoding ^ data; repetitions are one
    document's data continued) as a Document; HL7Error saying what is wrong with it."""
    d = message.delimiters
    reps = obx.repetitions(5)
    if not reps:
        raise HL7Error(f"OBX {number} is ED but OBX-5 holds no document")
    first = reps[0].split(d.component)
    kind, subtype, encoding = [(first[i] if len(first) > i else "").strip() for i in (1, 2, 3)]
    chunks = []
    for rep in reps:
        comps = rep.split(d.component)
        chunks.append(message.unescape(comps[4]) if len(comps) > 4 else "")
    raw = "".join("".join(chunks).split())
    if not raw:
        raise HL7Error(f"OBX {number} is ED but OBX-5.5 (the data) is empty")
    try:
        if encoding.lower() == "base64":
            data = base64.b64decode(raw, validate=True)
        elif encoding.lower() == "hex":
            data = bytes.fromhex(raw)
        else:
            raise HL7Error(f"OBX {number}: ED encoding {encoding or '(empty)'!r} is not supported (Base64, Hex)")
    except ValueError as exc:
        raise HL7Error(f"OBX {number}: ED data is not valid {encoding} ({exc})") from None
    top = _ED_TYPES.get(kind.lower(), "application")
    content_type = f"{top}/{(subtype or 'octet-stream').lower()}"
    if content_type == "application/pdf" and not data.startswith(b"%PDF-"):
        raise HL7Error(f"OBX {number}: ED says PDF but the data does not start with %PDF-")
    title = message.unescape(obx.component(3, 2)) or message.unescape(obx.component(3, 1)) or "Report"
    return Document(content_type, base64.b64encode(data).decode("ascii"), title)


def documents_of(message) -> tuple[tuple[Document, ...], list[str]]:
    """The ED documents of a message, decoded, and what was wrong with any that could not be."""
    d = message.delimiters
    documents, problems = [], []
    for n, obx in enumerate(message.all("OBX"), 1):
        if obx.field(2).split(d.component, 1)[0].strip().upper() == "ED":
            try:
                documents.append(_document(message, obx, n))
            except HL7Error as exc:
                problems.append(str(exc))
    return tuple(documents), problems


def refusal(message) -> str | None:
    """Why an ORU is not a report the EHR can store (None when it is): no OBX text (TX, FT, ST,
    CE/CWE/CF with text), no NTE text and no ED document; or an ED that is not a valid document.
    Cheap for the usual message: when its first OBX holds text the answer is None at once (an ED
    beside that text is decoded when the report is first read, off the ACK path like the text)."""
    first = message.first("OBX")
    if first is not None and _obx_holds_text(message, first):
        return None
    documents, problems = documents_of(message)
    if problems:
        return problems[0]
    if documents or any(_obx_holds_text(message, obx) for obx in message.all("OBX")) \
            or any(_holds_text(message, nte.field(3)) for nte in message.all("NTE")):
        return None
    return "the report holds no text: no OBX with text (TX, FT, ST, CE), no NTE, no ED document"


def note_lines(message) -> list[str]:
    """The NTE-3 lines of a message: each repetition a line (``\\.br\\`` a line break); an empty
    NTE-3 an empty line, as an empty OBX-5 is."""
    lines: list[str] = []
    for nte in message.all("NTE"):
        lines += [message.unescape(r) for r in (nte.repetitions(3) or [""])]
    return lines


def report_text(message) -> str:
    """The report text as the EHR stores it: the OBX text (``hl7.report_text``), or the NTE lines
    when no OBX holds text (a report sent as notes)."""
    text = hl7.report_text(message)
    if text and not text.isspace():
        return text
    notes = "\n".join(note_lines(message))
    return notes if notes and not notes.isspace() else text


def attachments_of(message) -> tuple[tuple[Document, ...], tuple[str, ...]]:
    """What the EHR keeps beside the text: the ED documents (one that cannot be decoded is kept
    as a Document with no data, its title saying why: shown, never silently dropped) and the NTE
    comments when OBX text exists (NTE without OBX text are the text itself)."""
    fs = message.delimiters.field
    documents, problems = documents_of(message) if f"{fs}ED" in message.text else ((), [])
    documents += tuple(Document("application/octet-stream", "", f"document not stored: {p}") for p in problems)
    comments: tuple[str, ...] = ()
    if f"NTE{fs}" in message.text and any(_obx_holds_text(message, obx) for obx in message.all("OBX")):
        comments = tuple(note_lines(message))
    return documents, comments

