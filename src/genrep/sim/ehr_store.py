"""The virtual EHR's clinical state: patients, encounters, orders and reports, and what an accepted
ADT, ORM^O01 or ORU^R01 does to them.

``Store`` holds the records (and the MLLP side's ACK memory and counters, so one ``reset`` gives a
test a clean EHR); ``ClinicalMessages`` applies one parsed message to it and says AA, AE or AR.
Protocol checks (framing, charset, resends) are ``ehr_mllp``'s; how the records are shown is
``ehr_fhir``'s. What a message holds as a report (text, ED documents, NTE comments, ``refusal``) is
read by ``ehr_report_content``, and a report's renditions (``ReportViews``) are made by
``ehr_views``; their public names are re-exported here.

Clean behaviour (what a correct receiver does with a valid message):
- ADT A01/A04 open an encounter, A02 moves it, A03 ends it, A08 updates; A02/A03 need a
  registered patient with an open encounter; birth date and sex are derived from a personnummer
  when PID leaves them out, never guessed from a reserve number;
- ORM^O01 records the order under its placer order number; an ORU for it completes it;
- ORU^R01 text stored from every OBX, every repetition and every ``\\.br\\`` (all three conventions);
  a report sent as NTE segments only (no OBX with text) is stored with the NTE-3 lines as its text;
  NTE beside OBX text are comments, kept with the report (``comments``), not part of its text; an
  ED OBX (an encapsulated document, Base64 or Hex: a PDF ...) is kept as a ``Document`` and shown
  in its own type; a report with no text, no notes and no document is refused (AE), never stored
  empty (``refusal``, ``contracts/radiology.yaml`` text);
- an accession over the contract's limit gets AE, never stored under a shortened accession;
- P -> F -> C replace the text of one accession; OBR-29 links an addendum to its parent;
- every rendition the EHR shows of a report (``ReportViews``: the text inline, as HTML, its
  conclusion) says what the stored text says.
Defects (``genrep.sim.defects``) change exactly one of these behaviours each.
"""

from __future__ import annotations

import datetime
import itertools
import time
from dataclasses import dataclass, field

from genrep import hl7
from genrep.errors import HL7Error
from genrep.sim.defects import truncate_bytes
from genrep.sim.ehr_report_content import (Document, attachments_of, documents_of, note_lines, refusal,
                                           report_text)
from genrep.sim.ehr_views import ReportViews, conclusion_of, html_document, render_views
from genrep.text.representations import CONCLUSION_HEADINGS, conclusion_paragraph

# the report reading (ehr_report_content) and the renditions (ehr_views) are importable from here as before
__all__ = ["ACK_MEMORY", "CONCLUSION_HEADINGS", "ClinicalMessages", "Document", "EHRReportRecord", "ReportViews",
           "Store", "attachments_of", "conclusion_of", "conclusion_paragraph", "derive_demographics",
           "documents_of", "html_document", "note_lines", "refusal", "render_views", "report_text"]

#: How many control ids (with their ACK) the EHR remembers for resend detection.
ACK_MEMORY = 100_000

_NOW: list = [None, ""]


def _utc_now() -> str:
    """Now as a FHIR instant (UTC, seconds), formatted once per second."""
    second = int(time.time())
    if _NOW[0] != second:
        _NOW[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(second))]
    return _NOW[1]


@dataclass(slots=True)
class EHRReportRecord:
    """The virtual EHR's stored record of one report (not the harness's read-back of it, which is
    ``integrations.radiology.StoredReport``). The message it came from is kept and its text
    rendered on first read: "store the message, render on read", as integration engines do. It
    keeps the text extraction off the ACK path without weakening anything: the report is stored
    (and findable by accession) before the EHR serves any other request, and the text is what the
    message held."""

    id: str
    accession: str
    patient_id: str
    status: str
    source: object  # the parsed message, until its text is rendered
    version: int
    issued: str
    title: str
    parent_accession: str = ""
    history: list[str] = field(default_factory=list)  # earlier statuses, for audit
    extract: object = None  # callable(message) -> (documents, comments), rendered with the text
    _documents: tuple[Document, ...] = ()
    _comments: tuple[str, ...] = ()
    render: object = None  # callable(message) -> text (the EHR's extraction, defects included)
    present: object = None  # callable(text, title) -> ReportViews (its renditions, defects included)
    _text: str | None = None
    _views: ReportViews | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.render(self.source)
            if self.extract is not None:
                self._documents, self._comments = self.extract(self.source)
            self.source = None
        return self._text

    @property
    def documents(self) -> tuple[Document, ...]:
        """The ED documents (a PDF ...), shown in their own type (rendered with the text)."""
        _ = self.text
        return self._documents

    @property
    def comments(self) -> tuple[str, ...]:
        """NTE beside OBX text: shown with the report, not part of its text."""
        _ = self.text
        return self._comments

    @property
    def views(self) -> ReportViews:
        """The renditions of the current version, rendered on first read like the text."""
        if self._views is None:
            present = self.present or render_views
            self._views = present(self.text, self.title)
        return self._views

    def replace(self, status: str, source, issued: str) -> None:
        """A new status of the same report replaces its text as a whole, never appends."""
        self.history.append(self.status)
        self.status, self.source, self.issued, self._text, self._views = status, source, issued, None, None
        self.version += 1


def derive_demographics(identifier: str, defects: dict) -> dict:
    """Birth date and sex from a 12-digit personnummer/samordningsnummer, as a Swedish EHR derives
    them (day - 60 for a samordningsnummer; odd second-to-last digit = male). A reserve number or
    anything else gives nothing: no guessed birth date.

    Defect ``registration-dob`` replays a registration bug open on the 2024 go-live day: the
    century is guessed from the two-digit year (so a person over 100 is made a century younger)
    and the samordningsnummer's + 60 is not taken off the day."""
    if len(identifier) != 12 or not identifier.isdigit() or identifier.startswith("99"):
        return {}  # a reserve number (or anything else): nothing may be guessed from it
    year, month, day = int(identifier[:4]), int(identifier[4:6]), int(identifier[6:8])
    if "registration-dob" in defects:
        yy = int(identifier[2:4])
        year = 2000 + yy if yy <= int(time.strftime("%y")) else 1900 + yy
    elif day > 60:
        day -= 60
    try:
        born = datetime.date(year, month, day)
    except ValueError:  # not a date: not a personnummer either, so no sex from it
        return {}
    return {"birth_date": born.strftime("%Y%m%d"), "sex": "M" if int(identifier[10]) % 2 else "F"}


class Store:
    """In-memory records. ``reset`` gives each test a clean EHR (Toxiproxy-style isolation)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.patients: dict[str, dict] = {}  # identifier -> patient dict
        self.patients_by_id: dict[str, dict] = {}
        self.reports: dict[str, EHRReportRecord] = {}  # accession -> latest
        self.reports_by_id: dict[str, EHRReportRecord] = {}
        # (MSH-3, MSH-4, MSH-10) -> (message text, ACK given): a resend gets the same ACK, a
        # different message under a used control id is refused (never an AA that stores nothing)
        self.acks: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.encounters: dict[str, dict] = {}  # patient id -> current encounter
        self.orders: dict[str, dict] = {}  # placer order number -> ServiceRequest-ish record
        self.counters = {"messages": 0, "AA": 0, "AE": 0, "AR": 0, "frames_too_large": 0,
                         "incomplete_frames": 0, "duplicates": 0}
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def remember_ack(self, key: tuple[str, str, str], text: str, ack: str) -> None:
        """Keep the ACK given for a control id, bounded (oldest forgotten first): a long soak
        must not grow without limit; a resend arrives seconds, not 100,000 messages, later."""
        acks = self.acks
        if len(acks) >= ACK_MEMORY:
            del acks[next(iter(acks))]
        acks[key] = (text, ack)


class ClinicalMessages:
    """What an ADT, ORM^O01 or ORU^R01 does to the ``Store``. ``apply`` answers (code, note,
    commit): commit is None, or (for an accepted report) the store of it, which cannot fail and
    is run by the MLLP side right after the ACK is written (see ``ehr_mllp``)."""

    def __init__(self, store: Store, *, defects: dict[str, int | None], accession_field: str = "OBR-3",
                 accession_max_length: int = 20):
        self.store = store
        self.defects = defects
        self.accession_field = accession_field
        self.read_accession = hl7.accession_reader(accession_field)  # the path is checked once
        self.accession_max_length = accession_max_length
        self._reports_received = 0  # valid ORUs so far (the radiology-drops-under-load defect counts them)

    def apply(self, message) -> tuple[str, str, object]:
        mtype = message.message_type
        if mtype.startswith("ADT^"):
            if message.event not in ("A01", "A02", "A03", "A04", "A08"):
                return "AR", f"event {message.event} not supported (A01, A02, A03, A04, A08)", None
            if message.event in ("A02", "A03"):
                patient = self.store.patients.get(hl7.patient_identifier_from(message))
                if patient is None:
                    return "AE", f"{message.event} for a patient who is not registered", None
                encounter = self.store.encounters.get(patient["id"])
                if encounter is None or encounter["status"] != "in-progress":
                    return "AE", f"{message.event} without an open encounter", None
            patient = self.upsert_patient(message)
            self.update_encounter(patient, message)
            return "AA", "", None
        if mtype == "ORM^O01":
            return (*self.store_order(message), None)
        if mtype == "ORU^R01":
            return self.store_report(message)
        return "AR", f"message type {mtype or '(empty)'} not supported", None

    def upsert_patient(self, message) -> dict:
        info = hl7.patient_from(message)
        ident = info.get("identifier", "")
        if not ident:
            raise HL7Error("PID-3 (patient identifier) is empty")
        patient = self.store.patients.get(ident)
        if patient is None:
            patient = {"id": self.store.next_id("pat")}
            self.store.patients[ident] = patient
            self.store.patients_by_id[patient["id"]] = patient
        derived = derive_demographics(ident, self.defects)
        for key in ("birth_date", "sex"):  # the EHR derives what the message leaves out
            if not info.get(key):
                info[key] = derived.get(key, "")
        patient.update(info)
        return patient

    def update_encounter(self, patient: dict, message) -> None:
        pv1 = message.first("PV1")
        event = message.event
        location = message.unescape(pv1.field(3)) if pv1 else ""
        klass = (pv1.field(2) if pv1 else "") or "E"
        enc = self.store.encounters.get(patient["id"])
        now = _utc_now()
        if event in ("A01", "A04") or enc is None:
            enc = {"id": self.store.next_id("enc"), "status": "in-progress", "class": klass,
                   "location": location, "history": [], "start": now}
            self.store.encounters[patient["id"]] = enc
        if event == "A02":
            enc["history"].append(enc["location"])
            enc["location"] = location
            enc["class"] = klass
        elif event == "A03":
            enc["status"] = "finished"
            enc["end"] = now
        elif event == "A08" and location:
            enc["location"] = location

    def store_order(self, message) -> tuple[str, str]:
        patient = self.store.patients.get(hl7.patient_identifier_from(message))
        if patient is None:
            return "AE", "unknown patient (PID-3 not registered): send ADT first"
        obr = message.first("OBR")
        placer = message.unescape(obr.field(2)) if obr else ""
        if not placer:
            return "AE", "OBR-2 (placer order number) is empty"
        if len(placer) > self.accession_max_length:
            return "AE", f"placer order number longer than {self.accession_max_length}"
        self.store.orders[placer] = {"id": self.store.next_id("sr"), "placer": placer, "patient_id": patient["id"],
                                     "status": "active", "code": message.unescape(obr.component(4, 1)),
                                     "title": message.unescape(obr.component(4, 2)),
                                     "reason": message.unescape(obr.field(13)), "report": ""}
        return "AA", ""

    def store_report(self, message) -> tuple[str, str, object]:
        """Everything that can refuse the report is checked here; the store itself is the commit."""
        patient = self.store.patients.get(hl7.patient_identifier_from(message))
        if patient is None:
            return "AE", "unknown patient (PID-3 not registered): send ADT first", None
        accession = self.read_accession(message)
        if not accession:
            return "AE", f"accession ({self.accession_field}) is empty", None
        if len(accession) > self.accession_max_length:
            return "AE", (f"accession is {len(accession)} characters; the limit is "
                          f"{self.accession_max_length}: refused, nothing stored"), None
        obr = message.first("OBR")
        existing = self.store.reports.get(accession)
        if existing is not None and existing.patient_id != patient["id"]:
            return "AE", "accession already belongs to another patient: refused", None
        why = refusal(message)
        if why is not None:
            return "AE", f"{why}: refused, nothing stored", None
        if "radiology-ack-without-store" in self.defects:
            return "AA", "", None
        if "radiology-drops-under-load" in self.defects:
            self._reports_received += 1
            if self._reports_received % self.defects["radiology-drops-under-load"] == 0:
                return "AA", "", None
        return "AA", "", lambda: self.commit_report(message, obr, accession, patient["id"])

    def commit_report(self, message, obr, accession: str, patient_id: str) -> None:
        status = (obr.field(25) if obr else "") or "F"
        # unescaped, like the accession itself; most reports have no parent (OBR-29 empty)
        parent = hl7.parent_accession_from(message) if obr is not None and obr.field(29) else ""
        title = message.unescape(obr.component(4, 2)) if obr else ""
        now = _utc_now()
        placer = message.unescape(obr.field(2)) if obr else ""
        order = self.store.orders.get(placer) if placer else None
        if order is not None and order["patient_id"] == patient_id:
            order["report"] = accession
            if status in ("F", "C"):
                order["status"] = "completed"
        existing = self.store.reports.get(accession)
        if existing is None:
            rep = EHRReportRecord(id=self.store.next_id("dr"), accession=accession, patient_id=patient_id,
                                  status=status, source=message, version=1, issued=now,
                                  title=title or "Radiology report", parent_accession=parent,
                                  render=self.render_text, present=self.render_views,
                                  extract=attachments_of)
            self.store.reports[accession] = rep
            self.store.reports_by_id[rep.id] = rep
        else:
            existing.replace(status, message, now)

    def render_text(self, message) -> str:
        return self.apply_text_defects(report_text(message))

    def render_views(self, text: str, title: str) -> ReportViews:
        return render_views(text, title, self.defects)

    def apply_text_defects(self, text: str) -> str:
        if "radiology-drop-lines" in self.defects:
            text = "\n".join(text.split("\n")[: self.defects["radiology-drop-lines"]])
        if "radiology-linebreaks" in self.defects:
            text = "".join(line.strip() for line in text.split("\n"))
        if "radiology-truncation" in self.defects:
            text = truncate_bytes(text, self.defects["radiology-truncation"])
        return text
