"""The virtual EHR's e-prescribing: signing with the prescriber's SITHS card and sending to the receiver.

The real EHR's API for this is not public [U]; this is the assumption of ``contracts/erx.yaml`` [A]:

- ``POST /ehr/erx/prescriptions`` ``{"prescriber": HSA-id, "patient": "Patient/ID", "medication",
  "dosage"}``: the EHR picks the prescriber's signing certificate from the card
  (``genrep.sim.erx_cards``: everything the card reader and the workstation's store present), signs
  the prescription (ECDSA-SHA256 over its canonical JSON), sends body, signature and certificate to
  the receiver (``genrep.sim.erx_receiver``, ``--erx-url``) and answers 201 with its record: status
  ``sent`` (with the receiver's receipt) or ``failed`` with the reason (the receiver's rejection code,
  or ``receiver-unavailable``). No valid signing certificate: 422 with an OperationOutcome naming the
  problem (``no-signing-certificate``, ``signing-certificate-expired``,
  ``signing-certificate-not-yet-valid``, coded in the contract's ``reason_system``); nothing is sent.
- ``GET /ehr/erx/prescriptions/{id}``: the record.
- ``GET /ehr/erx/certificates?prescriber=ID``: the certificates the EHR offers the prescriber to sign
  with (label, serial, subject, PEM). Clean: the one valid signing certificate of the prescriber
  (key usage nonRepudiation, valid now, the prescriber's own), whatever else is on the card; none when
  there is none.

Defects (``genrep.sim.defects``): ``erx-signs-with-auth-cert`` (signs with the prescriber's
authentication certificate: offered and used; the receiver refuses it), ``erx-offers-every-certificate``
(2024: every certificate on the card is offered; the right one is still used) and
``erx-sent-never-received`` (answers "sent" with a receipt of its own; nothing reaches the receiver).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import itertools
import json

import aiohttp
from aiohttp import web

from genrep.sim.ehr_outbound import OutboundSession, answer_object
from genrep.sim.ehr_store import Store

MAX_BODY = 64 * 1024
REASON_SYSTEM = "urn:genrep:erx-failure"  # contracts/erx.yaml api.reason_system
RECORD_MEMORY = 20_000


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _holder(cert) -> str:
    from cryptography.x509.oid import NameOID
    values = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    return str(values[0]) if values else ""


def _usage(cert) -> str:
    from cryptography import x509
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return ""
    return "signing" if ku.content_commitment else "authentication" if ku.digital_signature else ""


def _validity(cert, now: _dt.datetime) -> str:
    if now > cert.not_valid_after_utc:
        return "expired"
    if now < cert.not_valid_before_utc:
        return "not-yet-valid"
    return "valid"


def _refusal(code: str, text: str) -> web.Response:
    issue = {"severity": "error", "code": "business-rule", "diagnostics": text,
             "details": {"coding": [{"system": REASON_SYSTEM, "code": code}], "text": text}}
    return web.json_response({"resourceType": "OperationOutcome", "issue": [issue]}, status=422,
                             content_type="application/fhir+json")


def _bad(status: int, text: str) -> web.Response:
    return web.json_response({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "diagnostics": text}]}, status=status,
        content_type="application/fhir+json")


#: the bound for one delivery to the e-prescription receiver when none is given: a send must be
#: answered (sent, failed or refused) well inside contracts/erx.yaml within_seconds
ERX_TIMEOUT_S = 1.5


class ErxModule(OutboundSession):
    def __init__(self, store: Store, cards: dict, receiver_url: str | None, defects: dict, *,
                 timeout: float = ERX_TIMEOUT_S):
        self.store = store
        self.cards = cards  # prescriber HSA-id -> [erx_cards.Card]
        self.receiver_url = receiver_url.rstrip("/") if receiver_url else None
        self.defects = defects
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, dict] = {}
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/ehr/erx/prescriptions", self.create)
        app.router.add_get("/ehr/erx/prescriptions/{id}", self.read)
        app.router.add_get("/ehr/erx/certificates", self.certificates)

    # -- choosing the certificate -------------------------------------------------------------------
    def offered(self, prescriber: str) -> list:
        """The certificates offered to the prescriber (the first is the one signed with)."""
        card = self.cards.get(prescriber, [])
        if "erx-offers-every-certificate" in self.defects:
            right = [c for c in card if self._right(c, prescriber)]
            return right + [c for c in card if c not in right]  # every one; the careful prescriber picks right
        now = _now()
        if "erx-signs-with-auth-cert" in self.defects:
            return [c for c in card if _holder(c.cert) == prescriber and _usage(c.cert) == "authentication"
                    and _validity(c.cert, now) == "valid"][:1]
        return [c for c in card if self._right(c, prescriber)][:1]

    @staticmethod
    def _right(card, prescriber: str) -> bool:
        return (_holder(card.cert) == prescriber and _usage(card.cert) == "signing"
                and _validity(card.cert, _now()) == "valid")

    def _why_none(self, prescriber: str) -> tuple[str, str]:
        now = _now()
        own = [c for c in self.cards.get(prescriber, []) if _holder(c.cert) == prescriber
               and _usage(c.cert) == "signing"]
        if not self.cards.get(prescriber):
            return "no-signing-certificate", f"no card is known for prescriber {prescriber}"
        expired = [c for c in own if _validity(c.cert, now) == "expired"]
        if expired:
            last = max(c.cert.not_valid_after_utc for c in expired)
            return "signing-certificate-expired", (f"the prescriber's signing certificate expired {last:%Y-%m-%d}; "
                                                   "no valid signing certificate on the card")
        if own:
            first = min(c.cert.not_valid_before_utc for c in own)
            return "signing-certificate-not-yet-valid", (f"the prescriber's signing certificate is valid only from "
                                                         f"{first:%Y-%m-%d}; no valid signing certificate on the card")
        return "no-signing-certificate", "the card holds no signing certificate of the prescriber"

    # -- the API ------------------------------------------------------------------------------------
    async def certificates(self, request: web.Request) -> web.Response:
        prescriber = request.query.get("prescriber", "").strip()
        if not prescriber:
            return _bad(400, "certificates?prescriber=HSA-ID is required")
        return web.json_response({"prescriber": prescriber, "offered": [
            {"label": c.label, "serial": c.serial, "subject": c.cert.subject.rfc4514_string(), "pem": c.cert_pem()}
            for c in self.offered(prescriber)]})

    async def read(self, request: web.Request) -> web.Response:
        record = self.records.get(request.match_info["id"])
        if record is None:
            return _bad(404, f"no e-prescription {request.match_info['id']}")
        return web.json_response(record)

    async def create(self, request: web.Request) -> web.Response:
        try:
            raw = await request.content.read(MAX_BODY + 1)
            if len(raw) > MAX_BODY:
                return _bad(413, f"an e-prescription is at most {MAX_BODY} bytes")
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return _bad(400, f"the body is not JSON: {exc}")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k].strip()
                                                 for k in ("prescriber", "patient", "medication", "dosage")):
            return _bad(400, "expected {prescriber, patient, medication, dosage} (strings)")
        patient_id = body["patient"].rpartition("Patient/")[2]
        if patient_id not in self.store.patients_by_id:
            return _bad(422, f"{body['patient']} is not a patient of this EHR")
        prescriber = body["prescriber"].strip()
        offered = self.offered(prescriber)
        if not offered or ("erx-offers-every-certificate" in self.defects and not self._right(offered[0], prescriber)):
            return _refusal(*self._why_none(prescriber))
        card = offered[0]
        n = next(self._ids)
        rid = f"erx-{n}"
        document = {"id": rid, "prescriber": prescriber, "patient": f"Patient/{patient_id}",
                    "medication": body["medication"], "dosage": body["dosage"],
                    "signedAt": _now().isoformat(timespec="seconds")}
        data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        signature = card.key.sign(data, ec.ECDSA(hashes.SHA256()))
        record = {"id": rid, "status": "pending", "prescriber": prescriber, "patient": document["patient"],
                  "medication": body["medication"], "dosage": body["dosage"],
                  "certificate": {"label": card.label, "serial": card.serial,
                                  "subject": card.cert.subject.rfc4514_string()},
                  "reason": "", "reason_text": "", "receipt": "", "sentAt": document["signedAt"]}
        if len(self.records) >= RECORD_MEMORY:
            self.records.pop(next(iter(self.records)))
        self.records[rid] = record
        if "erx-sent-never-received" in self.defects:  # an outbox that is never flushed, reported as sent
            record.update(status="sent", receipt=f"local-{n}")
        else:
            status, code, text, receipt = await self._send(rid, prescriber, data, signature, card)
            record.update(status=status, reason=code, reason_text=text, receipt=receipt)
        resp = web.json_response(record, status=201)
        resp.headers["Location"] = f"prescriptions/{rid}"
        return resp

    async def _send(self, rid: str, prescriber: str, data: bytes, signature: bytes, card) -> tuple[str, str, str, str]:
        """(status, reason code, text, receipt) after one delivery attempt."""
        if not self.receiver_url or self.session is None:
            return "failed", "receiver-unavailable", "no e-prescription receiver is configured for this EHR", ""
        payload = {"prescription": rid, "prescriber": prescriber, "body": base64.b64encode(data).decode("ascii"),
                   "signature": base64.b64encode(signature).decode("ascii"), "certificate": card.cert_pem()}
        try:
            async with self.session.post(f"{self.receiver_url}/prescriptions", json=payload) as resp:
                answer = await answer_object(resp, MAX_BODY)
                if resp.status == 200 and answer.get("outcome") == "accepted":
                    return "sent", "", "accepted by the receiver", str(answer.get("receipt", ""))
                if resp.status == 422 and answer.get("outcome") == "rejected":
                    return "failed", str(answer.get("reason") or "rejected"), str(answer.get("text", ""))[:300], ""
                return "failed", "receiver-unavailable", (f"the receiver answered HTTP {resp.status}: "
                                                          f"{str(answer.get('error', ''))[:200]}"), ""
        except asyncio.TimeoutError:
            return "failed", "receiver-unavailable", f"the receiver did not answer within {self.timeout} s", ""
        except aiohttp.ClientError as exc:
            return "failed", "receiver-unavailable", f"the receiver cannot be reached: {type(exc).__name__}", ""
