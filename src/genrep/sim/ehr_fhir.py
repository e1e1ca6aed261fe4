"""The virtual EHR's FHIR R4 read API: the stored records as Patient, Encounter, ServiceRequest,
DiagnosticReport, Observation and Binary resources, and the request handlers that serve them.

A DiagnosticReport shows its text in every form a real EHR uses, so that a read-back can compare
them all: ``presentedForm[0]`` text/plain by reference (``Binary/<id>-text``, the stored text),
``presentedForm[1]`` the same text inline (base64 ``data``), ``presentedForm[2]`` the HTML view
inline, ``conclusion`` when the text has a conclusion paragraph (``Slutsats:``), and ``result``
linking one Observation whose ``valueString`` is the report text. The renditions are the store's
(``EHRReportRecord.views``), rendered once per version. A document that came as an ED OBX (a PDF
...) is one more presentedForm, inline in its own contentType (a report that is only a document has
no text forms: nothing to compare, said so by the read-back); NTE comments beside the report text
are the Observation's ``note``.

Reads only (the records are written by MLLP, see ``ehr_store``); errors are OperationOutcomes.
The medication list is ``ehr_medications``'s; the auth check is ``ehr.fhir_auth_middleware``.
"""

from __future__ import annotations

import base64
import datetime

from aiohttp import web

from genrep.sim.ehr_medications import MedicationModule
from genrep.sim.ehr_store import EHRReportRecord, Store

FHIR_JSON = "application/fhir+json"
ACCESSION_SYSTEM = "urn:genrep:accession"
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
STATUS = {"P": "preliminary", "F": "final", "C": "corrected", "X": "cancelled", "R": "registered",
          "I": "registered", "A": "partial"}
TEXT_PLAIN = "text/plain; charset=utf-8"
TEXT_HTML = "text/html; charset=utf-8"


def outcome(status: int, code: str, text: str) -> web.Response:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return web.json_response(body, status=status, content_type=FHIR_JSON)


def bundle(resources: list[dict]) -> web.Response:
    body = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}
    return web.json_response(body, content_type=FHIR_JSON)


def patient_resource(p: dict) -> dict:
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


def encounter_resource(patient_id: str, e: dict) -> dict:
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


def order_resource(o: dict) -> dict:
    res = {"resourceType": "ServiceRequest", "id": o["id"], "status": o["status"], "intent": "order",
           "identifier": [{"system": "urn:genrep:placer", "value": o["placer"]}],
           "code": {"text": o["title"] or o["code"] or "Radiology"},
           "subject": {"reference": f"Patient/{o['patient_id']}"}}
    if o["reason"]:
        res["reasonCode"] = [{"text": o["reason"]}]
    return res


class FHIRApi:
    """The FHIR handlers over one ``Store`` (and the medication module for MedicationRequest)."""

    def __init__(self, store: Store, medications: MedicationModule):
        self.store = store
        self.medications = medications

    def routes(self, app: web.Application) -> None:
        """The FHIR reads; the catch-all ``not_found`` goes last, after every other route."""
        app.router.add_get("/fhir/metadata", self.metadata)
        app.router.add_get("/fhir/Patient", self.search_patient)
        app.router.add_get("/fhir/Patient/{id}", self.read_patient)
        app.router.add_get("/fhir/DiagnosticReport", self.search_reports)
        app.router.add_get("/fhir/DiagnosticReport/{id}", self.read_report)
        app.router.add_get("/fhir/Binary/{id}", self.read_binary)
        app.router.add_get("/fhir/Observation/{id}", self.read_observation)
        app.router.add_get("/fhir/MedicationRequest", self.search_medications)
        app.router.add_get("/fhir/Encounter", self.search_encounters)
        app.router.add_get("/fhir/ServiceRequest", self.search_orders)

    def report_resource(self, r: EHRReportRecord) -> dict:
        res = {"resourceType": "DiagnosticReport", "id": r.id,
               "meta": {"versionId": str(r.version)},
               "identifier": [{"system": ACCESSION_SYSTEM, "value": r.accession}],
               "status": STATUS.get(r.status, "unknown"),
               "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                         "code": "RAD"}]}],
               "code": {"text": r.title},
               "subject": {"reference": f"Patient/{r.patient_id}"},
               "issued": r.issued,
               "presentedForm": [{"contentType": TEXT_PLAIN, "url": f"Binary/{r.id}-text", "title": r.title}]}
        if r.documents and not r.text:  # only a document (a PDF): no empty text form beside it
            res["presentedForm"] = []
        views = r.views
        if views.inline_data:  # base64Binary may not be empty: an empty text has its Binary only
            res["presentedForm"].append({"contentType": TEXT_PLAIN, "data": views.inline_data, "title": r.title})
        if views.html_data:
            res["presentedForm"].append({"contentType": TEXT_HTML, "data": views.html_data, "title": r.title})
        res["presentedForm"] += [{"contentType": doc.content_type, **({"data": doc.data} if doc.data else {}),
                                  "title": doc.title} for doc in r.documents]
        if views.conclusion:
            res["conclusion"] = views.conclusion
        if r.text.strip():
            res["result"] = [{"reference": f"Observation/{r.id}-text", "display": "Report text"}]
        order = next((o for o in self.store.orders.values() if o["report"] == r.accession), None)
        if order is not None:
            res["basedOn"] = [{"reference": f"ServiceRequest/{order['id']}"}]
        if r.parent_accession:
            res["extension"] = [{"url": "urn:genrep:parent-accession", "valueString": r.parent_accession}]
        return res

    async def metadata(self, request: web.Request) -> web.Response:
        body = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01",
                "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
                "rest": [{"mode": "server", "resource": [{"type": t} for t in
                                                          ("Patient", "DiagnosticReport", "Observation",
                                                           "Binary")]}]}
        return web.json_response(body, content_type=FHIR_JSON)

    async def search_patient(self, request: web.Request) -> web.Response:
        ident = request.query.get("identifier", "")
        if not ident:
            return outcome(400, "required", "search Patient needs identifier=[system|]value")
        value = ident.split("|")[-1]
        p = self.store.patients.get(value)
        return bundle([patient_resource(p)] if p else [])

    async def read_patient(self, request: web.Request) -> web.Response:
        p = self.store.patients_by_id.get(request.match_info["id"])
        if p is None:
            return outcome(404, "not-found", f"Patient/{request.match_info['id']} not found")
        return web.json_response(patient_resource(p), content_type=FHIR_JSON)

    async def search_reports(self, request: web.Request) -> web.Response:
        q = request.query
        unknown = set(q) - {"identifier", "patient", "subject", "_count", "_summary"}
        if unknown:
            return outcome(400, "not-supported", f"unsupported search parameter(s): {', '.join(sorted(unknown))}")
        if q.get("_summary", "count") != "count":
            return outcome(400, "not-supported", "only _summary=count is supported")
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
            return outcome(400, "required", "search DiagnosticReport needs identifier or patient")
        if "_summary" in q:  # FHIR _summary=count: the total only (counting under load)
            return web.json_response({"resourceType": "Bundle", "type": "searchset", "total": len(reports)},
                                     content_type=FHIR_JSON)
        return bundle([self.report_resource(r) for r in reports])

    async def read_report(self, request: web.Request) -> web.Response:
        r = self.store.reports_by_id.get(request.match_info["id"])
        if r is None:
            return outcome(404, "not-found", f"DiagnosticReport/{request.match_info['id']} not found")
        return web.json_response(self.report_resource(r), content_type=FHIR_JSON)

    @staticmethod
    def _patient_param(request: web.Request) -> str | None:
        pat = request.query.get("patient") or request.query.get("subject")
        return pat.split("/")[-1] if pat else None

    async def search_encounters(self, request: web.Request) -> web.Response:
        pid = self._patient_param(request)
        if not pid:
            return outcome(400, "required", "search Encounter needs patient")
        enc = self.store.encounters.get(pid)
        return bundle([encounter_resource(pid, enc)] if enc else [])

    async def search_orders(self, request: web.Request) -> web.Response:
        pid = self._patient_param(request)
        if not pid:
            return outcome(400, "required", "search ServiceRequest needs patient")
        return bundle([order_resource(o) for o in self.store.orders.values() if o["patient_id"] == pid])

    async def search_medications(self, request: web.Request) -> web.Response:
        """The patient's medication list from NLL (see ``ehr_medications``)."""
        pat = request.query.get("patient") or request.query.get("subject")
        if not pat:
            return outcome(400, "required", "search MedicationRequest needs patient")
        patient = self.store.patients_by_id.get(pat.split("/")[-1])
        if patient is None:
            return outcome(404, "not-found", f"Patient/{pat.split('/')[-1]} not found")
        return await self.medications.medication_list(patient)

    def observation_resource(self, r: EHRReportRecord) -> dict:
        """The report text as the one Observation the report's ``result`` links."""
        status = STATUS.get(r.status, "unknown")
        notes = {"note": [{"text": c} for c in r.comments if c.strip()]} if r.comments else {}
        return {"resourceType": "Observation", "id": f"{r.id}-text", "meta": {"versionId": str(r.version)},
                "status": "preliminary" if status == "partial" else status,
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "imaging"}]}],
                "code": {"text": "Report text"},
                "subject": {"reference": f"Patient/{r.patient_id}"},
                "issued": r.issued,
                "valueString": r.text, **notes}

    async def read_observation(self, request: web.Request) -> web.Response:
        oid = request.match_info["id"]
        r = self.store.reports_by_id.get(oid.removesuffix("-text"))
        if r is None or not oid.endswith("-text") or not r.text.strip():
            return outcome(404, "not-found", f"Observation/{oid} not found")
        return web.json_response(self.observation_resource(r), content_type=FHIR_JSON)

    async def read_binary(self, request: web.Request) -> web.Response:
        bid = request.match_info["id"]
        r = self.store.reports_by_id.get(bid.removesuffix("-text"))
        if r is None or not bid.endswith("-text"):
            return outcome(404, "not-found", f"Binary/{bid} not found")
        accept = request.headers.get("Accept", "*/*").lower()
        data = r.text.encode("utf-8")
        if "text/plain" in accept or "text/*" in accept:
            return web.Response(body=data, content_type="text/plain", charset="utf-8")
        if FHIR_JSON in accept or "application/json" in accept or accept.strip() in ("*/*", ""):
            body = {"resourceType": "Binary", "id": bid, "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(data).decode("ascii")}
            return web.json_response(body, content_type=FHIR_JSON)
        return outcome(406, "not-supported", f"Binary/{bid} is text/plain; cannot serve Accept: {accept}")

    async def not_found(self, request: web.Request) -> web.Response:
        return outcome(404, "not-supported", f"{request.method} {request.path} is not supported")
