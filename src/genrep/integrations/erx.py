"""E-prescriptions signed with the prescriber's SITHS card and sent through the EHR (contracts/erx.yaml).

The one adapter for the EHR's e-prescribing API, which is not public [U]: what it assumes [A] is the
contract's ``api`` (a prescription POSTed as the prescriber; the EHR's record of it read back; the
certificates it offers the prescriber, as PEM). The endpoint is the profile's ``ehr_erx`` (else
``ehr_api`` + ``/erx``); what actually arrived at the receiver, and whether it verified, is read from
``erx_receiver_admin`` when the profile has one (the virtual receiver), else not checked (said so).

The offered certificates are judged from the certificates themselves (``cryptography``): the holder
(the subject attribute the contract names), the key usage (the contract's signing usage:
nonRepudiation) and the validity now. So "too many certificates listed" (2024) is checkable against
any EHR that exposes the list, with no knowledge of the card.

The ``expect_*`` functions judge one observation and return the failure message (kind first) or None.
Transport failures talking to the EHR itself are raised, not classified (``genrep.preflight``).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass

from genrep.config.erx import ErxContract, Prescriber
from genrep.config.profile import Profile
from genrep.errors import ProtocolError
from genrep.transport.endpoints import http_transport_for


@dataclass(frozen=True)
class OfferedCertificate:
    label: str
    serial: str
    holder: str       # the subject's identity attribute (HSA-id), "" when absent
    usage: str        # signing | authentication | other
    validity: str     # valid | expired | not-yet-valid | unreadable
    subject: str

    def describe(self) -> str:
        return f"{self.label or self.serial} ({self.usage}, {self.validity}, holder {self.holder or '?'})"


def inspect_certificate(pem: str, contract: ErxContract, label: str = "",
                        now: _dt.datetime | None = None) -> OfferedCertificate:
    """What a certificate is, read from the certificate itself."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
    except ValueError:
        return OfferedCertificate(label, "", "", "other", "unreadable", "")
    oid = NameOID.SERIAL_NUMBER if contract.identity_attribute == "serialNumber" else NameOID.COMMON_NAME
    holders = [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        usage = ("signing" if getattr(ku, contract.signing_key_usage) else
                 "authentication" if getattr(ku, contract.authentication_key_usage) else "other")
    except x509.ExtensionNotFound:
        usage = "other"
    now = now or _dt.datetime.now(_dt.timezone.utc)
    validity = ("expired" if now > cert.not_valid_after_utc else
                "not-yet-valid" if now < cert.not_valid_before_utc else "valid")
    return OfferedCertificate(label, format(cert.serial_number, "x"), holders[0] if holders else "", usage,
                              validity, cert.subject.rfc4514_string())


@dataclass
class ErxSend:
    """The EHR's answer to one send: its record (201), or a refusal (4xx OperationOutcome), or an error."""
    prescriber: Prescriber
    elapsed: float
    http_status: int
    record: dict | None = None
    refusal: tuple[str, str] | None = None   # (reason code, text)
    error: str = ""

    def __repr__(self) -> str:  # no patient data; Allure records step arguments
        return f"ErxSend({self.prescriber.name}, HTTP {self.http_status})"

    def describe(self) -> str:
        if self.record is not None:
            r = self.record
            cert = r.get("certificate") if isinstance(r.get("certificate"), dict) else {}
            return (f"HTTP {self.http_status} after {self.elapsed:.2f} s: {r.get('id')} status {r.get('status')}"
                    + (f", reason {r.get('reason')}: {r.get('reason_text')}" if r.get("reason") else "")
                    + (f", receipt {r.get('receipt')}" if r.get("receipt") else "")
                    + (f", signed with {cert.get('label') or cert.get('serial')}" if cert else ""))
        if self.refusal is not None:
            return f"refused (HTTP {self.http_status}) after {self.elapsed:.2f} s: {self.refusal[0] or '(no code)'}: " \
                   f"{self.refusal[1] or '(no text)'}"
        return f"error after {self.elapsed:.2f} s: {self.error}"


def _operation_outcome(body) -> tuple[str, str] | None:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    issue = (body.get("issue") or [{}])[0]
    issue = issue if isinstance(issue, dict) else {}
    details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
    codings = details.get("coding") if isinstance(details.get("coding"), list) else []
    code = next((str(c.get("code", "")) for c in codings if isinstance(c, dict) and c.get("code")), "")
    return code, str(details.get("text") or issue.get("diagnostics") or "")


class ErxClient:
    """Sends e-prescriptions through one EHR and reads what it offered, recorded and what arrived."""

    def __init__(self, profile: Profile, contract: ErxContract):
        self.contract = contract
        if "ehr_erx" in profile.endpoints:
            self.http, self.prefix = http_transport_for(profile, "ehr_erx"), ""
        else:
            self.http, self.prefix = http_transport_for(profile, "ehr_api"), "erx/"
        self.admin = (http_transport_for(profile, "erx_receiver_admin", with_token=False,
                                         connect_timeout=1.0, read_timeout=3.0)
                      if "erx_receiver_admin" in profile.endpoints else None)

    def __repr__(self) -> str:
        return f"ErxClient({self.http.base_url})"

    def close(self) -> None:
        self.http.close()
        if self.admin is not None:
            self.admin.close()

    def _json(self, resp):
        try:
            return resp.json()
        except ValueError:
            return None

    def offered(self, prescriber: Prescriber) -> list[OfferedCertificate]:
        resp = self.http.request("GET", f"{self.prefix}certificates", params={"prescriber": prescriber.id})
        body = self._json(resp)
        if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("offered"), list):
            raise ProtocolError(f"erx_api_error: certificates?prescriber= answered HTTP {resp.status_code}: "
                                f"{resp.text[:200]}")
        return [inspect_certificate(str(c.get("pem", "")), self.contract, str(c.get("label", "")))
                for c in body["offered"] if isinstance(c, dict)]

    def send(self, prescriber: Prescriber, patient_id: str, medication: str, dosage: str) -> ErxSend:
        started = time.monotonic()
        resp = self.http.request("POST", f"{self.prefix}prescriptions",
                                 json={"prescriber": prescriber.id, "patient": f"Patient/{patient_id}",
                                       "medication": medication, "dosage": dosage})
        elapsed = time.monotonic() - started
        body = self._json(resp)
        out = ErxSend(prescriber, elapsed, resp.status_code)
        if resp.status_code in (200, 201) and isinstance(body, dict) and body.get("id") and body.get("status"):
            out.record = body
        elif 400 <= resp.status_code < 500 and _operation_outcome(body) is not None:
            out.refusal = _operation_outcome(body)
        else:
            out.error = f"the EHR's e-prescribing API answered HTTP {resp.status_code}: {resp.text[:200]}"
        return out

    def read(self, prescription_id: str) -> dict:
        resp = self.http.request("GET", f"{self.prefix}prescriptions/{prescription_id}")
        body = self._json(resp)
        if resp.status_code != 200 or not isinstance(body, dict):
            raise ProtocolError(f"erx_api_error: prescriptions/{prescription_id} answered HTTP {resp.status_code}")
        return body

    def received(self, prescription_id: str | None = None) -> list[dict] | None:
        """What arrived at the receiver (every prescription, or the one), verified or not; None when the
        profile names no receiver admin endpoint (a real receiver is asked another way)."""
        if self.admin is None:
            return None
        params = {"prescription": prescription_id} if prescription_id else None
        resp = self.admin.request("GET", "received", params=params)
        if resp.status_code != 200:
            raise ProtocolError(f"e-prescription receiver admin answered HTTP {resp.status_code}")
        items = (self._json(resp) or {}).get("received")
        return items if isinstance(items, list) else []


# -- judging: the failure message (kind first) or None ----------------------------------------------
# The kinds are genrep.results.failure_kinds' (a layer above: written out here, checked by its test).

def expect_offered_only_signing(offered: list[OfferedCertificate], prescriber: Prescriber,
                                contract: ErxContract) -> str | None:
    """The prescriber is offered exactly their one valid signing certificate (``offered_at_most``)."""
    listed = "; ".join(c.describe() for c in offered) or "none"
    right = [c for c in offered if c.holder == prescriber.id and c.usage == "signing" and c.validity == "valid"]
    if len(offered) > contract.offered_at_most:
        return (f"erx_too_many_certificates: {prescriber.name} is offered {len(offered)} certificates to sign "
                f"with, not the one valid signing certificate: {listed}")
    if not right:
        return (f"erx_wrong_certificate: {prescriber.name} is not offered their valid signing certificate "
                f"(key usage {contract.signing_key_usage}, valid, their own); offered: {listed}")
    return None


def expect_offered_none(offered: list[OfferedCertificate], prescriber: Prescriber) -> str | None:
    """A card with no valid signing certificate of the prescriber offers nothing to sign with."""
    if not offered:
        return None
    return (f"erx_too_many_certificates: {prescriber.name}'s card holds no valid signing certificate, yet "
            f"{len(offered)} certificate(s) are offered to sign with: "
            + "; ".join(c.describe() for c in offered))


def expect_sent(sent: ErxSend, contract: ErxContract) -> str | None:
    """The EHR answered "sent", within the bound."""
    if sent.error:
        return f"erx_api_error: {sent.describe()}"
    if sent.refusal is not None:
        return f"erx_not_sent: the prescriber has a valid signing certificate, yet the EHR refused: {sent.describe()}"
    status = sent.record.get("status")
    reason = str(sent.record.get("reason", ""))
    if status != "sent":
        if reason in ("wrong-key-usage", "identity-mismatch", "certificate-expired", "certificate-not-yet-valid"):
            return (f"erx_wrong_certificate: the receiver refused the signature ({reason}): the EHR signed with "
                    f"another certificate than the prescriber's valid signing certificate: {sent.describe()}")
        return f"erx_not_sent: {sent.describe()}"
    if sent.elapsed > contract.within_seconds:
        return f"erx_answer_late: sent, but answered after the bound of {contract.within_seconds:g} s: {sent.describe()}"
    return None


def expect_failed(sent: ErxSend, reason: str, received: list[dict] | None) -> str | None:
    """The EHR recorded the prescription failed with ``reason`` (never "sent": it cannot have arrived)."""
    if sent.error:
        return f"erx_api_error: {sent.describe()}"
    if sent.refusal is not None:
        return f"erx_wrong_reason: expected failed ({reason}), the EHR refused: {sent.describe()}"
    status, got = sent.record.get("status"), str(sent.record.get("reason", ""))
    if status == "sent":
        arrived = "the receiver has it" if received else "the receiver has nothing"
        return f"erx_not_received: the EHR says sent ({arrived}) where it could not be delivered ({reason}): " \
               f"{sent.describe()}"
    if got != reason:
        return f"erx_wrong_reason: expected failed with the reason {reason}: {sent.describe()}"
    return None


def expect_refused(sent: ErxSend, reason: str) -> str | None:
    """A clear refusal: a 4xx OperationOutcome naming ``reason``; nothing signed or sent."""
    if sent.error:
        return f"erx_api_error: {sent.describe()}"
    if sent.record is not None:
        return (f"erx_not_refused: the card has no valid signing certificate ({reason}), yet the EHR signed and "
                f"recorded it: {sent.describe()}")
    code, text = sent.refusal
    if not code and not text:
        return f"erx_refusal_unclear: refused without naming the problem (expected {reason}): {sent.describe()}"
    if code != reason:
        return f"erx_wrong_reason: expected the refusal {reason}: {sent.describe()}"
    return None


def expect_arrived_verified(sent: ErxSend, items: list[dict], prescriber: Prescriber) -> str | None:
    """What the EHR says was sent is at the receiver, verified, signed with the certificate the EHR recorded
    and held by the prescriber."""
    record = sent.record or {}
    if not items:
        return (f"erx_not_received: the EHR says {record.get('status')} (receipt {record.get('receipt') or 'none'}) "
                f"but the receiver has no record of {record.get('id')}")
    item = items[-1]
    if not item.get("verified"):
        kind = ("erx_wrong_certificate" if item.get("reason") in ("wrong-key-usage", "identity-mismatch",
                                                                  "certificate-expired", "certificate-not-yet-valid")
                else "erx_signature_invalid")
        return f"{kind}: the receiver did not verify {record.get('id')}: {item.get('reason')}: {item.get('text')}"
    signer = item.get("signer") if isinstance(item.get("signer"), dict) else {}
    cert = record.get("certificate") if isinstance(record.get("certificate"), dict) else {}
    if signer.get("holder") != prescriber.id:
        return f"erx_wrong_certificate: signed by {signer.get('holder') or '?'}, not by the prescriber {prescriber.id}"
    if cert.get("serial") and signer.get("serial") != cert.get("serial"):
        return (f"erx_wrong_certificate: the EHR recorded certificate {cert.get('serial')}, the receiver verified "
                f"{signer.get('serial')}")
    if record.get("receipt") and item.get("receipt") and record["receipt"] != item["receipt"]:
        return f"erx_not_received: the EHR's receipt {record['receipt']} is not the receiver's {item['receipt']}"
    return None
