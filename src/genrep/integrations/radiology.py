"""Radiology contract operations: register, send ORU^R01 over MLLP, read back over FHIR, compare.

This is what steps and load users call; they never touch ports or payload bytes. Every outbound
message passes the identity guard before a byte is written, and "AA" is never taken as "stored":
``read_back`` polls the EHR's FHIR API until the report is readable or the contract's
``stored_within_seconds`` has passed, and only a read-back text is ever compared.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from genrep import hl7
from genrep.config.profile import Profile
from genrep.config.contracts import RadiologyContract
from genrep.errors import ConnectionClosed, ReadTimeout
from genrep.transport.fhir import FHIRClient
from genrep.text.fidelity import FidelityResult, compare
from genrep.transport.endpoints import http_transport_for, mllp_client_for
from genrep.text.identities import IdentityGuard, run_tag

_RUN = run_tag()  # letters only: ids never hold a personnummer-shaped digit run
_SEQ = itertools.count(1)


def new_control_id() -> str:
    return f"GR{_RUN}{next(_SEQ):06d}"


def new_accession() -> str:
    """Unique per run, 14 characters: well inside a VARCHAR(20) accession."""
    return f"GR{_RUN}{next(_SEQ):06d}"


@dataclass
class Exchange:
    """One message sent and what came back. ``message`` is the HL7 text as sent (mask before showing)."""

    message: str
    payload: bytes
    ack: hl7.Ack | None
    ack_raw: bytes | None
    elapsed: float

    def __repr__(self) -> str:
        return f"Exchange(ack={self.ack.code if self.ack else None}, bytes={len(self.payload)})"


@dataclass
class StoredReport:
    """A report as the EHR shows it over FHIR."""

    id: str
    accession: str
    status: str
    text: str
    version: str
    parent_accession: str = ""
    resource: dict = field(default_factory=dict, repr=False)


class RadiologyClient:
    """Talks to one environment (virtual or real) under one contract."""

    def __init__(self, profile: Profile, contract: RadiologyContract, guard: IdentityGuard):
        self.profile, self.contract, self.guard = profile, contract, guard
        self.mllp = mllp_client_for(profile, "radiology_mllp",
                                    max_frame=max(contract.max_message_bytes * 2, 1 << 20))
        self.fhir = FHIRClient(http_transport_for(profile, "ehr_fhir"))

    def __repr__(self) -> str:
        return f"RadiologyClient({self.profile.name})"

    def close(self) -> None:
        self.mllp.close()
        self.fhir.transport.close()

    # -- sending ----------------------------------------------------------------------------
    def _send(self, message: str, payload: bytes | None = None) -> Exchange:
        payload = hl7.encode(message) if payload is None else payload
        self.guard.check(payload, destination=self.mllp.endpoint)  # before any byte leaves
        start = time.monotonic()
        raw = self.mllp.send(payload)
        return Exchange(message, payload, hl7.parse_ack(raw), raw, time.monotonic() - start)

    def register(self, patient: hl7.Patient, event: str = "A04", *, charset: str | None = None,
                 patient_class: str = "E", location: str = "", prior_location: str = "") -> Exchange:
        """ADT: A04 register, A01 admit, A02 transfer, A03 discharge, A08 update."""
        msg = hl7.build_adt(event, patient, control_id=new_control_id(),
                            charset=self.contract.charset if charset is None else charset,
                            patient_class=patient_class, location=location, prior_location=prior_location)
        return self._send(msg)

    def send_order(self, patient: hl7.Patient, order: hl7.Order) -> Exchange:
        """ORM^O01: a radiology referral placed in the EHR's order list."""
        return self._send(hl7.build_orm(patient, order, control_id=new_control_id(),
                                        charset=self.contract.charset))

    def encounter(self, patient_id: str) -> dict | None:
        found = self.fhir.search("Encounter", {"patient": patient_id})
        return found[-1] if found else None

    def orders(self, patient_id: str) -> list[dict]:
        return self.fhir.search("ServiceRequest", {"patient": patient_id})

    def build_report(self, patient: hl7.Patient, report: hl7.Report, *, convention: str | None = None,
                     charset: str | None = None, escape_cr: bool = True, segment_terminator: str = "\r",
                     control_id: str | None = None) -> str:
        return hl7.build_oru(patient, report, control_id=control_id or new_control_id(),
                             convention=convention or self.contract.default_convention,
                             charset=self.contract.charset if charset is None else charset,
                             accession_field=self.contract.accession_field, escape_cr=escape_cr,
                             segment_terminator=segment_terminator)

    def send_message(self, message: str, payload: bytes | None = None) -> Exchange:
        return self._send(message, payload)

    def send_chunks(self, message: str, chunks: list[bytes], *, expect_response: bool = True,
                    close_after: bool = False) -> Exchange:
        """Send pre-framed bytes in the given chunks (framing tests); guard checks them all first."""
        for c in chunks:
            self.guard.check(c, destination=self.mllp.endpoint)
        start = time.monotonic()
        try:
            raw = self.mllp.send_raw(chunks, expect_response=expect_response)
        finally:
            if close_after:
                self.mllp.close()
        ack = hl7.parse_ack(raw) if raw else None
        return Exchange(message, b"".join(chunks), ack, raw, time.monotonic() - start)

    def expect_no_answer(self, chunks: list[bytes], wait: float) -> bytes | None:
        """Send bytes that must get no ACK (an incomplete frame), wait ``wait`` s, then close."""
        for c in chunks:
            self.guard.check(c, destination=self.mllp.endpoint)
        probe = mllp_client_for(self.profile, "radiology_mllp", read_timeout=wait)
        try:
            return probe.send_raw(chunks, expect_response=True)
        except (ReadTimeout, ConnectionClosed):
            return None
        finally:
            probe.close()

    # -- reading back -----------------------------------------------------------------------
    def find_reports(self, accession: str) -> list[StoredReport]:
        out = []
        for res in self.fhir.search("DiagnosticReport", {"identifier": accession}):
            if not any(i.get("value") == accession for i in res.get("identifier", [])):
                continue  # a server that matches loosely must not mix up accessions
            out.append(self._stored(res, accession))
        return out

    def _stored(self, res: dict, accession: str) -> StoredReport:
        forms = res.get("presentedForm") or []
        text = ""
        if forms:
            form = forms[0]
            ctype = self.contract.read_back_content_type
            if form.get("url"):
                text = self.fhir.binary_text(form["url"], ctype)
            elif form.get("data"):
                import base64
                text = base64.b64decode(form["data"]).decode("utf-8")
        parent = next((e.get("valueString", "") for e in res.get("extension", []) or []
                       if e.get("url") == "urn:genrep:parent-accession"), "")
        return StoredReport(id=res.get("id", ""), accession=accession, status=res.get("status", ""),
                            text=text, version=(res.get("meta") or {}).get("versionId", ""),
                            parent_accession=parent, resource=res)

    def read_back(self, accession: str, *, within: float | None = None,
                  until=None) -> tuple[list[StoredReport], float]:
        """Poll until a report for ``accession`` is readable (and ``until(reports)`` holds, if given)
        or ``within`` seconds (contract default) pass. Returns (reports, seconds waited)."""
        within = self.contract.stored_within_seconds if within is None else within
        start = time.monotonic()
        deadline = start + within
        while True:
            reports = self.find_reports(accession)
            if reports and (until is None or until(reports)):
                return reports, time.monotonic() - start
            if time.monotonic() >= deadline:
                return reports, time.monotonic() - start
            time.sleep(self.contract.poll_interval_seconds)

    def find_patient(self, identifier: str) -> dict | None:
        found = self.fhir.search("Patient", {"identifier": identifier})
        return found[0] if found else None

    def compare(self, sent_text: str, stored_text: str) -> FidelityResult:
        return compare(sent_text, stored_text, self.contract.text_rules())
