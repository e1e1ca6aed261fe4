"""The virtual EHR: MLLP inbound (ADT, ORU^R01) and a FHIR R4 read API, in one asyncio process.

Why its own process: the harness must talk to it exactly as to a real EHR, over real sockets, so
the same steps run against a real test environment by changing only the profile. Why asyncio: a
persistent-connection MLLP listener handles thousands of messages per second on one core, where
hl7apy's server manages ~225/s with one message per connection (toolchain notes).

Clean behaviour (what a correct receiver does):
- frames reassembled however bytes arrive; a frame over ``max_message_bytes`` gets AR, never cut;
- MSH-18 honoured (``8859/1``, ``UNICODE UTF-8``); bytes contradicting it get AE, never mojibake;
- a malformed message gets AE (or AR when it is not HL7 at all), the connection stays usable;
- ORU^R01 text stored from every OBX, every repetition and every ``\\.br\\`` (all three conventions);
- an accession over the contract's limit gets AE, never stored under a shortened accession;
- P -> F -> C replace the text of one accession; OBR-29 links an addendum to its parent;
- a resent MSH-10 gets the same ACK and stores nothing twice.
Defects (``genrep.sim.defects``) change exactly one of these behaviours each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import gc
import hmac
import itertools
import urllib.parse
import json
import os
import ssl
import sys
import time
from dataclasses import dataclass, field

from aiohttp import web

from genrep.sim.lifecycle import install_stop_signals, run_until_stopped

from genrep import hl7
from genrep.errors import ConfigError, HL7Error
from genrep.transport.mllp import FrameDecoder, FrameTooLarge, frame
from genrep.sim.defects import DEFECTS, parse_defects, truncate_bytes
from genrep.sim.ehr_medications import MedicationModule
from genrep.sim.ehr_prescribing import PrescribingModule

FHIR_JSON = "application/fhir+json"
ACCESSION_SYSTEM = "urn:genrep:accession"
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
STATUS = {"P": "preliminary", "F": "final", "C": "corrected", "X": "cancelled", "R": "registered",
          "I": "registered", "A": "partial"}


_NOW: list = [None, ""]


def _utc_now() -> str:
    """Now as a FHIR instant (UTC, seconds), formatted once per second."""
    second = int(time.time())
    if _NOW[0] != second:
        _NOW[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(second))]
    return _NOW[1]


@dataclass(slots=True)
class StoredReport:
    """A stored report. The message it came from is kept and its text rendered on first read:
    "store the message, render on read", as integration engines do. It keeps the text extraction
    off the ACK path without weakening anything: the report is stored (and findable by
    accession) before the EHR serves any other request, and the text is what the message held."""

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
    render: object = None  # callable(message) -> text (the EHR's extraction, defects included)
    _text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.render(self.source)
            self.source = None
        return self._text

    def replace(self, status: str, source, issued: str) -> None:
        """A new status of the same report replaces its text as a whole, never appends."""
        self.history.append(self.status)
        self.status, self.source, self.issued, self._text = status, source, issued, None
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


#: How many control ids (with their ACK) the EHR remembers for resend detection.
ACK_MEMORY = 100_000


class Store:
    """In-memory records. ``reset`` gives each test a clean EHR (Toxiproxy-style isolation)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.patients: dict[str, dict] = {}  # identifier -> patient dict
        self.patients_by_id: dict[str, dict] = {}
        self.reports: dict[str, StoredReport] = {}  # accession -> latest
        self.reports_by_id: dict[str, StoredReport] = {}
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


class VirtualEHR:
    def __init__(self, *, defects: dict[str, int | None], max_message_bytes: int = 1048576,
                 accession_field: str = "OBR-3", accession_max_length: int = 20,
                 nll_url: str | None = None, nll_timeout: float = 3.0,
                 multum_url: str | None = None, multum_timeout: float = 4.0):
        self.defects = defects
        self.medications = MedicationModule(nll_url, defects, timeout=nll_timeout)
        self.prescribing = PrescribingModule(multum_url, defects, timeout=multum_timeout)
        self.max_message_bytes = max_message_bytes
        self.accession_field = accession_field
        self.read_accession = hl7.accession_reader(accession_field)  # the path is checked once
        self._reports_received = 0  # valid ORUs so far (the radiology-drops-under-load defect counts them)
        self.accession_max_length = accession_max_length
        self.store = Store()

    # -- MLLP ---------------------------------------------------------------------------------
    def mllp_protocol(self) -> asyncio.Protocol:
        return _MLLPProtocol(self)

    def too_large_ack(self) -> bytes:
        self.store.counters["frames_too_large"] += 1
        self.store.counters["AR"] += 1
        ack = hl7.build_ack(None, "AR", f"message exceeds the maximum of {self.max_message_bytes} "
                            "bytes; nothing stored", error_code="207")
        return ack.encode("ascii", errors="replace")

    def process(self, payload: bytes) -> bytes:
        """One inbound message -> the ACK bytes (encoded in the message's own charset)."""
        ack, commit = self.receive(payload)
        if commit is not None:
            commit()
        return ack

    def receive(self, payload: bytes):
        """Validate one message and build its ACK; return (ack bytes, commit or None).

        Everything that can refuse a message is checked before the ACK is built; the commit
        (extracting the report text and storing it) cannot fail and runs right after the ACK is
        written, before the event loop serves any other request, so a read-back can never see
        the state between ACK and store. This takes the text extraction off the ACK's critical
        path (see ``genrep bench mllp``)."""
        self._commit = None
        counters = self.store.counters
        counters["messages"] += 1
        message = header = key = None
        charset = "ascii"
        try:
            if "radiology-charset-ignored" in self.defects:
                text = payload.decode("utf-8", errors="replace")
            else:
                text = hl7.decode(payload)
            message = header = hl7.parse(text)
            charset = hl7.CHARSETS.get(message.charset, "utf-8")
            msh = message.msh
            key = (msh.field(3), msh.field(4), message.control_id)
            seen = self.store.acks.get(key)
            if seen is not None and seen[0] == text:  # a resend (the sender lost our ACK)
                counters["duplicates"] += 1
                return seen[1].encode(charset, errors="replace"), None
            if seen is not None:
                code, note = "AE", (f"control id {message.control_id!r} was already used by this sender "
                                    "for a different message: refused, nothing stored")
            else:
                code, note = self.apply(message)
        except hl7.CharsetMismatch as exc:
            code, note = "AE", str(exc)
        except HL7Error as exc:
            code, note = ("AE" if message is not None or payload.startswith(b"MSH") else "AR"), str(exc)
        except Exception as exc:  # never crash on input; say what happened
            code, note = "AE", f"internal error processing message: {type(exc).__name__}: {exc}"
        if header is None:  # refused before parsing: still name the message in MSA-2 if MSH is readable
            header = hl7.parse_header(payload)
            if header is not None:
                charset = hl7.CHARSETS.get(header.charset, "utf-8")
        counters[code] += 1
        ack = hl7.build_ack(header, code, note[:200], error_code=None if code == "AA" else "207")
        if code == "AA":
            self.store.remember_ack(key, text, ack)
        commit, self._commit = (self._commit if code == "AA" else None), None
        try:
            return ack.encode(charset), commit
        except UnicodeEncodeError:
            return ack.encode(charset, errors="replace"), commit

    def apply(self, message) -> tuple[str, str]:
        mtype = message.message_type
        if mtype.startswith("ADT^"):
            if message.event not in ("A01", "A02", "A03", "A04", "A08"):
                return "AR", f"event {message.event} not supported (A01, A02, A03, A04, A08)"
            if message.event in ("A02", "A03"):
                patient = self.store.patients.get(hl7.patient_identifier_from(message))
                if patient is None:
                    return "AE", f"{message.event} for a patient who is not registered"
                encounter = self.store.encounters.get(patient["id"])
                if encounter is None or encounter["status"] != "in-progress":
                    return "AE", f"{message.event} without an open encounter"
            patient = self.upsert_patient(message)
            self.update_encounter(patient, message)
            return "AA", ""
        if mtype == "ORM^O01":
            return self.store_order(message)
        if mtype == "ORU^R01":
            return self.store_report(message)
        return "AR", f"message type {mtype or '(empty)'} not supported"

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

    def store_report(self, message) -> tuple[str, str]:
        patient = self.store.patients.get(hl7.patient_identifier_from(message))
        if patient is None:
            return "AE", "unknown patient (PID-3 not registered): send ADT first"
        accession = self.read_accession(message)
        if not accession:
            return "AE", f"accession ({self.accession_field}) is empty"
        if len(accession) > self.accession_max_length:
            return "AE", (f"accession is {len(accession)} characters; the limit is "
                          f"{self.accession_max_length}: refused, nothing stored")
        obr = message.first("OBR")
        existing = self.store.reports.get(accession)
        if existing is not None and existing.patient_id != patient["id"]:
            return "AE", "accession already belongs to another patient: refused"
        if "radiology-ack-without-store" in self.defects:
            return "AA", ""
        if "radiology-drops-under-load" in self.defects:
            self._reports_received += 1
            if self._reports_received % self.defects["radiology-drops-under-load"] == 0:
                return "AA", ""
        self._commit = lambda: self.commit_report(message, obr, accession, patient["id"])
        return "AA", ""

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
            rep = StoredReport(id=self.store.next_id("dr"), accession=accession, patient_id=patient_id,
                               status=status, source=message, version=1, issued=now,
                               title=title or "Radiology report", parent_accession=parent,
                               render=self.render_text)
            self.store.reports[accession] = rep
            self.store.reports_by_id[rep.id] = rep
        else:
            existing.replace(status, message, now)

    def render_text(self, message) -> str:
        return self.apply_text_defects(hl7.report_text(message))

    def apply_text_defects(self, text: str) -> str:
        if "radiology-drop-lines" in self.defects:
            text = "\n".join(text.split("\n")[: self.defects["radiology-drop-lines"]])
        if "radiology-linebreaks" in self.defects:
            text = "".join(line.strip() for line in text.split("\n"))
        if "radiology-truncation" in self.defects:
            text = truncate_bytes(text, self.defects["radiology-truncation"])
        return text

    # -- FHIR ---------------------------------------------------------------------------------
    def patient_resource(self, p: dict) -> dict:
        gender = {"F": "female", "M": "male"}.get(p.get("sex", ""), "unknown")
        res = {"resourceType": "Patient", "id": p["id"],
               "identifier": [{"system": PNR_SYSTEM, "value": p.get("identifier", "")}],
               "gender": gender}
        # FHIR strings may not be empty: leave out what PID-5 did not carry
        name = {k: v for k, v in (("family", p.get("family", "")), ("given", [p.get("given", "")]))
                if v and v != [""]}
        if name:
            res["name"] = [name]
        bd = p.get("birth_date", "")
        try:  # only a real date: "20251340" must not become an invalid birthDate
            res["birthDate"] = datetime.date(int(bd[:4]), int(bd[4:6]), int(bd[6:8])).isoformat()
        except ValueError:
            pass
        return res

    def encounter_resource(self, patient_id: str, e: dict) -> dict:
        klass = {"E": "EMER", "I": "IMP", "O": "AMB"}.get(e["class"], "AMB")
        res = {"resourceType": "Encounter", "id": e["id"], "status": e["status"],
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
               "subject": {"reference": f"Patient/{patient_id}"},
               "period": {"start": e["start"], **({"end": e["end"]} if e.get("end") else {})}}
        locations = [{"location": {"display": loc}, "status": "completed"} for loc in e["history"] if loc]
        if e["location"]:
            locations.append({"location": {"display": e["location"]},
                              "status": "active" if e["status"] == "in-progress" else "completed"})
        if locations:
            res["location"] = locations
        return res

    def order_resource(self, o: dict) -> dict:
        res = {"resourceType": "ServiceRequest", "id": o["id"], "status": o["status"], "intent": "order",
               "identifier": [{"system": "urn:genrep:placer", "value": o["placer"]}],
               "code": {"text": o["title"] or o["code"] or "Radiology"},
               "subject": {"reference": f"Patient/{o['patient_id']}"}}
        if o["reason"]:
            res["reasonCode"] = [{"text": o["reason"]}]
        return res

    def report_resource(self, r: StoredReport) -> dict:
        res = {"resourceType": "DiagnosticReport", "id": r.id,
               "meta": {"versionId": str(r.version)},
               "identifier": [{"system": ACCESSION_SYSTEM, "value": r.accession}],
               "status": STATUS.get(r.status, "unknown"),
               "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                         "code": "RAD"}]}],
               "code": {"text": r.title},
               "subject": {"reference": f"Patient/{r.patient_id}"},
               "issued": r.issued,
               "presentedForm": [{"contentType": "text/plain; charset=utf-8", "url": f"Binary/{r.id}-text",
                                  "title": r.title}]}
        order = next((o for o in self.store.orders.values() if o["report"] == r.accession), None)
        if order is not None:
            res["basedOn"] = [{"reference": f"ServiceRequest/{order['id']}"}]
        if r.parent_accession:
            res["extension"] = [{"url": "urn:genrep:parent-accession", "valueString": r.parent_accession}]
        return res

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/fhir/metadata", self.metadata)
        app.router.add_get("/fhir/Patient", self.search_patient)
        app.router.add_get("/fhir/Patient/{id}", self.read_patient)
        app.router.add_get("/fhir/DiagnosticReport", self.search_reports)
        app.router.add_get("/fhir/DiagnosticReport/{id}", self.read_report)
        app.router.add_get("/fhir/Binary/{id}", self.read_binary)
        app.router.add_get("/fhir/MedicationRequest", self.search_medications)
        app.router.add_get("/fhir/Encounter", self.search_encounters)
        app.router.add_get("/fhir/ServiceRequest", self.search_orders)
        app.router.add_post("/ehr/prescribe", self.prescribing.prescribe)
        app.router.add_get("/ehr/interaction-audit", self.prescribing.audit_log)
        app.router.add_get("/admin/health", self.health)
        app.router.add_post("/admin/reset", self.reset)
        app.router.add_route("*", "/fhir/{tail:.*}", self.not_found)

    @staticmethod
    def outcome(status: int, code: str, text: str) -> web.Response:
        body = {"resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
        return web.json_response(body, status=status, content_type=FHIR_JSON)

    @staticmethod
    def bundle(resources: list[dict]) -> web.Response:
        body = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}
        return web.json_response(body, content_type=FHIR_JSON)

    async def metadata(self, request: web.Request) -> web.Response:
        body = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01",
                "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
                "rest": [{"mode": "server", "resource": [{"type": t} for t in
                                                          ("Patient", "DiagnosticReport", "Binary")]}]}
        return web.json_response(body, content_type=FHIR_JSON)

    async def search_patient(self, request: web.Request) -> web.Response:
        ident = request.query.get("identifier", "")
        if not ident:
            return self.outcome(400, "required", "search Patient needs identifier=[system|]value")
        value = ident.split("|")[-1]
        p = self.store.patients.get(value)
        return self.bundle([self.patient_resource(p)] if p else [])

    async def read_patient(self, request: web.Request) -> web.Response:
        p = self.store.patients_by_id.get(request.match_info["id"])
        if p is None:
            return self.outcome(404, "not-found", f"Patient/{request.match_info['id']} not found")
        return web.json_response(self.patient_resource(p), content_type=FHIR_JSON)

    async def search_reports(self, request: web.Request) -> web.Response:
        q = request.query
        unknown = set(q) - {"identifier", "patient", "subject", "_count", "_summary"}
        if unknown:
            return self.outcome(400, "not-supported", f"unsupported search parameter(s): {', '.join(sorted(unknown))}")
        if q.get("_summary", "count") != "count":
            return self.outcome(400, "not-supported", "only _summary=count is supported")
        if "identifier" in q:  # accession -> latest version: a lookup, not a scan of the store
            found = self.store.reports.get(q["identifier"].split("|")[-1])
            reports = [found] if found is not None else []
        else:
            reports = list(self.store.reports.values())
        pat = q.get("patient") or q.get("subject")
        if pat:
            pid = pat.split("/")[-1]
            reports = [r for r in reports if r.patient_id == pid]
        if not ("identifier" in q or pat):
            return self.outcome(400, "required", "search DiagnosticReport needs identifier or patient")
        if "_summary" in q:  # FHIR _summary=count: the total only (counting under load)
            return web.json_response({"resourceType": "Bundle", "type": "searchset", "total": len(reports)},
                                     content_type=FHIR_JSON)
        return self.bundle([self.report_resource(r) for r in reports])

    async def read_report(self, request: web.Request) -> web.Response:
        r = self.store.reports_by_id.get(request.match_info["id"])
        if r is None:
            return self.outcome(404, "not-found", f"DiagnosticReport/{request.match_info['id']} not found")
        return web.json_response(self.report_resource(r), content_type=FHIR_JSON)

    def _patient_param(self, request: web.Request) -> str | None:
        pat = request.query.get("patient") or request.query.get("subject")
        return pat.split("/")[-1] if pat else None

    async def search_encounters(self, request: web.Request) -> web.Response:
        pid = self._patient_param(request)
        if not pid:
            return self.outcome(400, "required", "search Encounter needs patient")
        enc = self.store.encounters.get(pid)
        return self.bundle([self.encounter_resource(pid, enc)] if enc else [])

    async def search_orders(self, request: web.Request) -> web.Response:
        pid = self._patient_param(request)
        if not pid:
            return self.outcome(400, "required", "search ServiceRequest needs patient")
        return self.bundle([self.order_resource(o) for o in self.store.orders.values() if o["patient_id"] == pid])

    async def search_medications(self, request: web.Request) -> web.Response:
        """The patient's medication list from NLL (see ``ehr_medications``)."""
        pat = request.query.get("patient") or request.query.get("subject")
        if not pat:
            return self.outcome(400, "required", "search MedicationRequest needs patient")
        patient = self.store.patients_by_id.get(pat.split("/")[-1])
        if patient is None:
            return self.outcome(404, "not-found", f"Patient/{pat.split('/')[-1]} not found")
        return await self.medications.medication_list(patient)

    async def read_binary(self, request: web.Request) -> web.Response:
        bid = request.match_info["id"]
        r = self.store.reports_by_id.get(bid.removesuffix("-text"))
        if r is None or not bid.endswith("-text"):
            return self.outcome(404, "not-found", f"Binary/{bid} not found")
        accept = request.headers.get("Accept", "*/*").lower()
        data = r.text.encode("utf-8")
        if "text/plain" in accept or "text/*" in accept:
            return web.Response(body=data, content_type="text/plain", charset="utf-8")
        if FHIR_JSON in accept or "application/json" in accept or accept.strip() in ("*/*", ""):
            body = {"resourceType": "Binary", "id": bid, "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(data).decode("ascii")}
            return web.json_response(body, content_type=FHIR_JSON)
        return self.outcome(406, "not-supported", f"Binary/{bid} is text/plain; cannot serve Accept: {accept}")

    async def not_found(self, request: web.Request) -> web.Response:
        return self.outcome(404, "not-supported", f"{request.method} {request.path} is not supported")

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid(), "defects": sorted(self.defects),
                                  "counters": self.store.counters})

    async def reset(self, request: web.Request) -> web.Response:
        self.store.reset()
        return web.json_response({"status": "reset"})


class _MLLPProtocol(asyncio.BufferedProtocol):
    """One MLLP connection. A protocol rather than streams: no per-read task switching, which
    matters at thousands of messages per second (see ``genrep bench mllp``). Buffered: reads go
    into one reusable buffer. A plain Protocol gets a fresh 256 KiB ``recv`` buffer per read,
    which glibc maps and unmaps each time (mmap + mremap + munmap and page faults per message:
    a third of the server's CPU in the benchmark)."""

    READ_BUFFER = 256 * 1024

    def __init__(self, ehr: VirtualEHR):
        self.ehr = ehr
        self.decoder = FrameDecoder(max_size=ehr.max_message_bytes)
        self.transport: asyncio.Transport | None = None
        self._buffer = memoryview(bytearray(self.READ_BUFFER))

    def connection_made(self, transport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        while True:
            try:
                payloads = self.decoder.feed(data)
            except FrameTooLarge as exc:  # answer the frames before it, AR it, go on after it
                for payload in exc.payloads:
                    self.answer(payload)
                self.write(self.ehr.too_large_ack())
                data = b""
                continue
            for payload in payloads:
                self.answer(payload)
            return

    def answer(self, payload: bytes) -> None:
        ack, commit = self.ehr.receive(payload)
        self.write(ack)  # the ACK goes out first ...
        if commit is not None:
            commit()  # ... then the store, before this event loop serves anything else

    def write(self, ack: bytes) -> None:
        if self.transport is not None:
            self.transport.write(frame(ack))

    def connection_lost(self, exc) -> None:
        if self.decoder.in_frame:  # a frame that never ended: nothing stored, no ACK
            self.ehr.store.counters["incomplete_frames"] += 1
        self.transport = None


def fhir_auth_middleware(token: str):
    """The FHIR auth check: every ``/fhir`` request (``/fhir/metadata`` excepted, as FHIR servers
    publish their capabilities) must carry ``Authorization: Bearer <token>``; otherwise 401 with an
    OperationOutcome. The 401 echoes the credential it was sent, raw, URL-encoded and base64, as
    some real servers and gateways do: that lets tests prove the harness redacts whatever a server
    sends back, in whatever encoding."""
    expected = f"Bearer {token}".encode("utf-8")

    @web.middleware
    async def check(request: web.Request, handler):
        if request.path.startswith("/fhir") and request.path != "/fhir/metadata":
            got = request.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode("utf-8"), expected):
                sent = got.partition(" ")[2].strip()
                # echoed raw, URL-encoded and base64-encoded (the header whole, as Basic-style
                # logs show it): servers and gateways echo credentials in each of these
                text = ("missing Authorization: Bearer token" if not got else
                        f"bearer token not accepted (received {sent!r}; url-encoded "
                        f"{urllib.parse.quote(sent, safe='')}; header as base64 "
                        f"{base64.b64encode(got.encode('utf-8')).decode('ascii')})")
                resp = VirtualEHR.outcome(401, "login", text)
                resp.headers["WWW-Authenticate"] = 'Bearer realm="genrep virtual EHR"'
                return resp
        return await handler(request)

    return check


async def serve(host: str, mllp_port: int, fhir_port: int, ehr: VirtualEHR, ready, *,
                ssl_context=None, nll_ssl_context=None, require_token: str | None = None) -> None:
    """Run the MLLP and FHIR listeners until stopped. ``ssl_context``: both listeners speak TLS
    (with a client CA loaded, they require a client certificate); ``nll_ssl_context``: the
    medication module reads NLL over TLS with it; ``require_token``: the FHIR API wants it."""
    # The parent is read before announcing ready: once the ready line is out the parent may die
    # at any moment, and a parent read after that would already be init (an orphan forever).
    stop, parent = install_stop_signals()
    loop = asyncio.get_running_loop()
    tls_kwargs = {"ssl": ssl_context, "ssl_handshake_timeout": 10.0} if ssl_context is not None else {}
    server = await loop.create_server(ehr.mllp_protocol, host, mllp_port, **tls_kwargs)
    middlewares = [fhir_auth_middleware(require_token)] if require_token else []
    app = web.Application(client_max_size=2 ** 20, middlewares=middlewares)
    ehr.routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await ehr.medications.start()
    if nll_ssl_context is not None:  # the same session settings, over TLS to the NLL simulator
        import aiohttp
        await ehr.medications.session.close()
        ehr.medications.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=ehr.medications.timeout),
            connector=aiohttp.TCPConnector(ssl=nll_ssl_context))
    await ehr.prescribing.start()
    site = web.TCPSite(runner, host, fhir_port, ssl_context=ssl_context)
    await site.start()
    actual_mllp = server.sockets[0].getsockname()[1]
    actual_fhir = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context is not None else "http"
    ready({"service": "ehr", "host": host, "mllp_port": actual_mllp, "fhir_port": actual_fhir,
           "fhir_base": f"{scheme}://{host}:{actual_fhir}/fhir", "tls": ssl_context is not None,
           "mutual_tls": ssl_context is not None and ssl_context.verify_mode == ssl.CERT_REQUIRED,
           "token_required": bool(require_token), "defects": sorted(ehr.defects), "pid": os.getpid()})

    await run_until_stopped(stop, parent)
    server.close()
    await ehr.medications.close()
    await ehr.prescribing.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genrep.sim.ehr", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mllp-port", type=int, default=0)
    ap.add_argument("--fhir-port", type=int, default=0)
    ap.add_argument("--defect", action="append", default=[],
                    help=f"switch on a defect (repeatable): {', '.join(sorted(DEFECTS))}")
    ap.add_argument("--max-message-bytes", type=int, default=None)
    ap.add_argument("--nll-url", default=None, help="NLL FHIR base URL the medication module reads from")
    ap.add_argument("--nll-timeout", type=float, default=3.0, help="bound for one NLL request, seconds")
    ap.add_argument("--multum-url", default=None, help="Multum load balancer base URL (interaction checks)")
    ap.add_argument("--multum-timeout", type=float, default=4.0, help="bound for one interaction check, seconds")
    ap.add_argument("--tls-cert", default=None, help="PEM server certificate: MLLP and FHIR speak TLS")
    ap.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert (unencrypted)")
    ap.add_argument("--tls-client-ca", default=None,
                    help="PEM CA: require a client certificate it signed (mutual TLS) on MLLP and FHIR")
    ap.add_argument("--nll-ca-file", default=None, help="PEM CA that signed the NLL simulator's certificate")
    ap.add_argument("--nll-client-cert", default=None, help="client certificate for NLL (mutual TLS)")
    ap.add_argument("--nll-client-key", default=None, help="key of --nll-client-cert (unencrypted)")
    ap.add_argument("--require-token-env", default=None, metavar="NAME",
                    help="the FHIR API requires 'Authorization: Bearer <value of env var NAME>' (401 otherwise)")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(json.dumps({"error": "the virtual EHR listens on loopback only"}), flush=True)
        return 2
    if args.max_message_bytes is not None and args.max_message_bytes <= 0:
        print(json.dumps({"error": f"--max-message-bytes must be positive, got {args.max_message_bytes}"}),
              flush=True)
        return 2
    from genrep.config.contracts import load_radiology
    env_defects = [d for d in os.environ.get("GENREP_DEFECTS", "").split(",") if d.strip()]
    try:  # a bad defect name or contract is reported on the ready line, not as a bare traceback
        contract = load_radiology()
        defects = parse_defects(args.defect + env_defects)
    except ConfigError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    try:  # TLS and token settings are checked before anything listens, and reported on the ready line
        ssl_context, nll_ssl_context, token = _security_options(args)
    except (ConfigError, OSError, ssl.SSLError) as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    ehr = VirtualEHR(defects=defects,
                     max_message_bytes=args.max_message_bytes or contract.max_message_bytes,
                     accession_field=contract.accession_field,
                     accession_max_length=contract.accession_max_length,
                     nll_url=args.nll_url, nll_timeout=args.nll_timeout,
                     multum_url=args.multum_url, multum_timeout=args.multum_timeout)
    # The store holds every message received; the cyclic GC would rescan that growing heap again
    # and again (about 9 % of the server's CPU in ``genrep bench mllp``). Everything loaded so far
    # is frozen out of collection, and young collections run less often. Nothing here builds
    # reference cycles per message, so memory is freed by reference counting as before.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        asyncio.run(serve(args.host, args.mllp_port, args.fhir_port, ehr,
                          lambda info: print(json.dumps(info), flush=True), ssl_context=ssl_context,
                          nll_ssl_context=nll_ssl_context, require_token=token))
    except OSError as exc:  # e.g. the port is taken
        print(json.dumps({"error": f"cannot listen on {args.host}: {exc}"}), flush=True)
        return 2
    return 0


def _security_options(args):
    """(server SSLContext or None, NLL client SSLContext or None, required token or None) from the
    command line of ``main``."""
    from genrep.transport.tls import peer_client_context, server_context
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
    ctx = server_context(args.tls_cert, args.tls_key, client_ca_file=args.tls_client_ca) if args.tls_cert else None
    nll_ctx = None
    if args.nll_ca_file:
        nll_ctx = peer_client_context(args.nll_ca_file, args.nll_client_cert, args.nll_client_key)
    elif args.nll_client_cert:
        raise ConfigError("--nll-client-cert needs --nll-ca-file")
    token = None
    if args.require_token_env:
        token = os.environ.get(args.require_token_env, "").strip()
        if not token:
            raise ConfigError(f"--require-token-env {args.require_token_env}: that environment variable is "
                              "not set or empty")
    return ctx, nll_ctx, token


if __name__ == "__main__":
    sys.exit(main())
