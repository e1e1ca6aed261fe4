"""The virtual EHR's medication module: the patient's NLL list, shown through the EHR's FHIR API.

Clean behaviour (what a correct consumer of NLL does):
- reads both NLL release shapes (administration instruction in ``additionalInstruction`` in
  release N, in an extension in N+1) and ignores unknown plain extensions;
- treats ``\\r\\n``, ``\\r`` and ``\\n`` in NLL text as the same line break and keeps every word;
- withholds a prescription that carries an unknown ``modifierExtension`` (its meaning may be
  changed by it) and says so in an OperationOutcome entry, instead of showing it as normal;
- shows a withheld or missing patient instruction as absent (data-absent-reason), never as "";
- when NLL cannot be read (timeout, 5xx, malformed answer) answers 503 with an OperationOutcome
  "NLL unavailable": a missing list is never an empty list.
Defects (``genrep.sim.defects``) each break one of these.
"""

from __future__ import annotations

import json
import uuid

import aiohttp
from aiohttp import web

from genrep.sim.body import read_capped
from genrep.sim.ehr_outbound import OutboundSession, call_failures

FHIR_JSON = "application/fhir+json"
PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"
ADMIN_EXTENSION = "http://electronichealth.se/fhir/StructureDefinition/NLLAdministrationInstruction"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
WRAP_WIDTH = 40  # the nll-word-loss defect re-wraps at this width
MAX_NLL_BODY = 8 * 1024 * 1024


class NLLUnavailable(Exception):
    pass


def _outcome(status: int, code: str, text: str, severity: str = "error") -> web.Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code,
                                                           "diagnostics": text}]}
    return web.json_response(body, status=status, content_type=FHIR_JSON)


def wrap_dropping_boundary_word(text: str, width: int = WRAP_WIDTH) -> str:
    """The nll-word-loss defect: greedy re-wrap where the word that does not fit is lost."""
    out_lines = []
    for line in text.split("\n"):
        current = ""
        for word in line.split(" "):
            if not current:
                current = word
            elif len(current) + 1 + len(word) <= width:
                current += " " + word
            else:  # the bug: the boundary word is dropped instead of starting the next line
                out_lines.append(current)
                current = ""
        out_lines.append(current)
    return "\n".join(out_lines)


class MedicationModule(OutboundSession):
    def __init__(self, nll_url: str | None, defects: dict, timeout: float = 3.0):
        self.nll_url = nll_url.rstrip("/") if nll_url else None
        self.defects = defects
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self.fetches = {"ok": 0, "failed": 0}

    async def fetch_nll(self, identifier: str) -> list[dict]:
        """The patient's MedicationRequests from NLL; NLLUnavailable on any failure."""
        if not self.nll_url or self.session is None:
            raise NLLUnavailable("no NLL endpoint is configured for this EHR")
        headers = {"x-request-id": str(uuid.uuid4()), "x-user-agent": "genrep-virtual-ehr/0.1",
                   "Accept": FHIR_JSON}
        url = f"{self.nll_url}/MedicationRequest"
        with call_failures("NLL", self.timeout, NLLUnavailable):
            async with self.session.get(url, params={"patient.identifier": f"{PNR_SYSTEM}|{identifier}"},
                                        headers=headers) as resp:
                raw = await read_capped(resp, MAX_NLL_BODY)
                if len(raw) > MAX_NLL_BODY:
                    raise NLLUnavailable(f"NLL answer larger than {MAX_NLL_BODY} bytes")
                if resp.status >= 400:
                    raise NLLUnavailable(f"NLL answered HTTP {resp.status}")
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
                if ctype not in (FHIR_JSON, "application/json"):
                    raise NLLUnavailable(f"NLL answered content type {ctype or 'none'}")
                body = json.loads(raw)
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise NLLUnavailable("NLL answered something that is not a FHIR Bundle")
        return [e["resource"] for e in body.get("entry") or []
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                and e["resource"].get("resourceType") == "MedicationRequest"]

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        if "nll-linebreaks" in self.defects:  # CRLF read as two breaks, a lone CR dropped
            value = value.replace("\r\n", "\n\n").replace("\r", "")
        else:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        if "nll-word-loss" in self.defects:
            value = wrap_dropping_boundary_word(value)
        return value

    def to_ehr_dosage(self, dosage: dict) -> dict:
        """One NLL Dosage as the EHR shows it: its sequence and timing as NLL has them, its texts."""
        admin = next((a.get("text") for a in dosage.get("additionalInstruction") or [] if a.get("text")), None)
        if "nll-release-drift" not in self.defects:  # release N+1 moved it into an extension
            admin = next((e.get("valueString") for e in dosage.get("extension") or []
                          if e.get("url") == ADMIN_EXTENSION), admin)
        out_dosage: dict = {}
        for key in ("sequence", "timing"):  # a step of a schedule keeps its place and its days
            if key in dosage:
                out_dosage[key] = dosage[key]
        if dosage.get("text"):
            out_dosage["text"] = self.text(dosage["text"])
        if dosage.get("patientInstruction") is not None:
            out_dosage["patientInstruction"] = self.text(dosage["patientInstruction"])
        else:
            reason = next((e.get("valueCode") for e in (dosage.get("_patientInstruction") or {}).get("extension") or []
                           if e.get("url") == DATA_ABSENT), "unknown")
            out_dosage["_patientInstruction"] = {"extension": [{"url": DATA_ABSENT, "valueCode": reason}]}
        if admin:
            out_dosage["additionalInstruction"] = [{"text": self.text(admin)}]
        return out_dosage

    def to_ehr(self, nll: dict, patient_id: str) -> dict:
        # every dosage step (a taper is three steps, never its first one); none: one "absent" step
        dosages = [d for d in nll.get("dosageInstruction") or [] if isinstance(d, dict)] or [{}]
        res = {"resourceType": "MedicationRequest", "id": f"nll-{nll.get('id', '')}",
               "meta": {"versionId": str((nll.get("meta") or {}).get("versionId", "1")),
                        "source": "NLL"},
               "status": nll.get("status", "active"), "intent": "plan",
               "medicationCodeableConcept": {"text": (nll.get("medicationCodeableConcept") or {}).get("text", "")},
               "subject": {"reference": f"Patient/{patient_id}"},
               "dosageInstruction": [self.to_ehr_dosage(d) for d in dosages]}
        notes = [{"text": self.text(n["text"])} for n in nll.get("note") or [] if n.get("text")]
        if notes:
            res["note"] = notes
        return res

    async def medication_list(self, patient: dict) -> web.Response:
        try:
            nll_items = await self.fetch_nll(patient.get("identifier", ""))
        except NLLUnavailable as exc:
            self.fetches["failed"] += 1
            if "nll-unavailable-empty" in self.defects:  # the defect: failure shown as "no medications"
                return web.json_response({"resourceType": "Bundle", "type": "searchset", "total": 0,
                                          "entry": []}, content_type=FHIR_JSON)
            return _outcome(503, "transient", f"NLL unavailable: {exc}; the medication list could not be "
                                              "fetched and is NOT known to be empty")
        self.fetches["ok"] += 1
        entries, withheld = [], []
        for item in nll_items:
            unknown = [m.get("url", "?") for m in item.get("modifierExtension") or []]
            if unknown:
                withheld.append(f"prescription {item.get('id', '?')} withheld: unknown modifierExtension "
                                f"{', '.join(unknown)} may change its meaning")
                continue
            res = self.to_ehr(item, patient["id"])
            entries.append({"fullUrl": f"MedicationRequest/{res['id']}", "resource": res,
                            "search": {"mode": "match"}})
        if withheld:
            entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [
                {"severity": "warning", "code": "not-supported", "diagnostics": w} for w in withheld]},
                "search": {"mode": "outcome"}})
        return web.json_response({"resourceType": "Bundle", "type": "searchset",
                                  "total": sum(1 for e in entries if e["search"]["mode"] == "match"),
                                  "entry": entries}, content_type=FHIR_JSON)
