"""The integration adapters of ``genrep explore``: one example through the live integration and back.

Each target sends an :class:`~genrep.explore.examples.Example` exactly as the steps send their
texts and reads back what the receiver shows, returning an :class:`Outcome` classified as the
results reader classifies a failure (the fidelity kind, or ``not_stored``, ``refused`` ...):

* :class:`RadiologyTarget`: the allowlisted test patient registered once (ADT A04); per example an
  ORU^R01 with a fresh accession and control id over MLLP (the example's line convention and
  MSH-18 character set, or its already-escaped OBX-5 wire value of type FT/TX/ST); after AA the
  report is read back through ``RadiologyClient.read_back`` (AA is not stored: it polls the agreed
  time) and every representation compared with the expected text and with each other by
  ``RadiologyClient.check``. A refusal of a valid message, no ACK, nothing stored or two reports
  under one accession fail too; a refusal of a message over the agreed maximum is right.
* :class:`NLLTarget` (virtual environment only): the example planted as a prescription's patient
  instruction through the virtual NLL's admin API, then the EHR's medication list read and
  compared. A real NLL holds only its own data: ``require_virtual_nll`` refuses it.

Separate from the search so that the search can be tested with a stand-in ``run``, and an
integration added without touching the shrinking.
"""

from __future__ import annotations

from dataclasses import dataclass

from genrep.errors import ConfigError, GenrepError
from genrep.explore.examples import Example


@dataclass
class Outcome:
    """What one example did on the live system. ``kind`` None: it passed."""

    kind: str | None = None
    severity: str | None = None
    message: str = ""          # classification first: "[kind/severity]" findings or "kind: ..."
    stored: str | None = None  # the text read back
    diff: str = ""
    ack: str = ""

    @property
    def failed(self) -> bool:
        return self.kind is not None


def _failure(kind: str, message: str, **kw) -> Outcome:
    from genrep.results.failure_kinds import failure, lookup
    return Outcome(kind, lookup(kind).severity, failure(kind, message), **kw)


def _fidelity(result, stored: str, ack: str = "") -> Outcome:
    if result.ok:
        return Outcome(stored=stored, ack=ack)
    return Outcome(result.findings[0].kind, result.findings[0].severity, result.summary(), stored,
                   result.diff(), ack)


def _classified(message: str, stored: str, diff: str, ack: str = "") -> Outcome:
    """A failure message (fidelity ``[kind/severity]`` findings or ``kind: ...`` blocks) as an
    outcome classified by the first kind it names, as the results reader classifies it."""
    from genrep.results.failure_kinds import kinds_in, lookup
    kinds = kinds_in(message) or ["changed_text"]
    return Outcome(kinds[0], lookup(kinds[0]).severity, message, stored, diff, ack)


PLACEHOLDER = "GENREPEXPLOREWIREVALUE"


class RadiologyTarget:
    """The radiology integration of one environment: register once, then one ORU per example."""

    integration = "radiology"

    def __init__(self, profile, guard, identity, contract=None):
        from genrep.config.contracts import load_radiology
        from genrep.integrations.radiology import RadiologyClient
        from genrep.text.testdata import patient_for
        self.contract = contract or load_radiology()
        self.client = RadiologyClient(profile, self.contract, guard)
        self.patient = patient_for(identity, seed="explore")
        self._owns_client = True

    @classmethod
    def for_patient(cls, client, patient) -> "RadiologyTarget":
        """A target on an open ``RadiologyClient`` for a patient registered already (a feature's
        Background did it): ``prepare`` is not needed, and ``close`` leaves the client open."""
        target = cls.__new__(cls)
        target.contract, target.client, target.patient = client.contract, client, patient
        target._owns_client = False
        return target

    def prepare(self) -> None:
        ex = self.client.register(self.patient)
        if ex.ack is None or ex.ack.code not in self.contract.accepted_codes:
            raise GenrepError("genrep explore: registering the test patient was answered "
                              f"{ex.ack.code + ' ' + ex.ack.text if ex.ack else 'with nothing'}: nothing explored")

    def message(self, example: Example) -> tuple[str, str]:
        """(the ORU to send, its accession): fresh accession and control id every time."""
        from genrep import hl7
        from genrep.integrations.radiology import new_accession
        accession = new_accession()
        if example.wire is None:
            report = hl7.Report(accession=accession, text=example.plain)
            return self.client.build_report(self.patient, report, convention=example.convention,
                                            charset=example.charset), accession
        report = hl7.Report(accession=accession, text=PLACEHOLDER)
        msg = self.client.build_report(self.patient, report, convention="ft-br", charset=example.charset)
        if msg.count(PLACEHOLDER) != 1 or msg.count("OBX|1|FT|") != 1:
            raise GenrepError("genrep explore: could not place the wire value in the built ORU")
        return (msg.replace("OBX|1|FT|", f"OBX|1|{example.wire_type or 'FT'}|")
                .replace(PLACEHOLDER, example.wire), accession)

    def run(self, example: Example) -> Outcome:
        msg, accession = self.message(example)
        ex = self.client.send_message(msg)
        ack = ex.ack
        if ack is None:
            return _failure("no_ack", f"no acknowledgement for report {accession}")
        if ack.code not in self.contract.accepted_codes:
            if len(ex.payload) > self.contract.max_message_bytes and ack.code in self.contract.refused_codes:
                return Outcome(ack=ack.code)  # over the agreed maximum: refusing is right
            return _failure("refused", f"the EHR answered {ack.code} to a valid report of "
                                       f"{len(ex.payload)} bytes: {ack.text}", ack=ack.code)
        reports, _ = self.client.read_back(accession)
        if not reports:
            return _failure("not_stored", f"the EHR acknowledged report {accession} with {ack.code} but it was "
                                          f"not readable over FHIR within {self.contract.stored_within_seconds} s "
                                          "(AA is not stored)", ack=ack.code)
        if len(reports) > 1:
            return _failure("duplicated", f"{len(reports)} reports stored for accession {accession}",
                            ack=ack.code)
        stored = reports[0]
        check = self.client.check(example.expected, stored)  # every representation, the conclusion
        if check.ok:
            return Outcome(stored=stored.text, ack=ack.code)
        return _classified(check.message(), stored.text,
                           "\n\n".join(f"== {name}\n{diff}" for name, diff in check.diffs), ack.code)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class NLLTarget:
    """The medication list of the virtual environment: each example planted in the virtual NLL as a
    prescription's patient instruction, then the EHR's list read and compared."""

    integration = "nll"

    def __init__(self, profile, guard, identity):
        from genrep.config.contracts import load_radiology
        from genrep.integrations.medication_list import EHRMedicationClient
        from genrep.integrations.nll import NLLAdmin
        from genrep.integrations.radiology import RadiologyClient
        from genrep.text.testdata import patient_for
        require_virtual_nll(profile)
        self.inbound = RadiologyClient(profile, load_radiology(), guard)  # registers the patient (ADT)
        self.admin = NLLAdmin(profile, guard)
        self.ehr = EHRMedicationClient(profile)
        self.patient = patient_for(identity, seed="explore")
        self.patient_id = ""

    def prepare(self) -> None:
        ex = self.inbound.register(self.patient)
        if ex.ack is None or not ex.ack.accepted:
            raise GenrepError("genrep explore: registering the test patient was answered "
                              f"{ex.ack.code if ex.ack else 'with nothing'}: nothing explored")
        found = self.inbound.find_patient(self.patient.identifier)
        if not found:
            raise GenrepError("genrep explore: the registered test patient is not found over FHIR: nothing explored")
        self.patient_id = found["id"]

    def run(self, example: Example) -> Outcome:
        from genrep.integrations.medication_list import match
        from genrep.integrations.nll import Prescription
        from genrep.integrations.radiology import new_accession
        from genrep.text.fidelity import TextRules, compare
        rx_id = f"rx-{new_accession().lower()}"
        medication = "Alvedon 500 mg tablett"
        self.admin.load(self.patient.identifier, [{
            "id": rx_id, "medication": medication, "dosage_text": "1x3",
            "administration_instruction": "Sväljs hela med ett glas vatten.", "note": "Ordinerad vid vårdcentralen.",
            "version": 1, "status": "active", "patient_instruction": example.plain}])
        shown = self.ehr.medication_list(self.patient_id)
        if not shown.available:
            return _failure("nll_unavailable", f"the EHR could not show the list: {shown.message}")
        got = match(Prescription(rx_id, medication, example.plain, None, "1x3", None, "", "1", [], {}),
                    shown.prescriptions)
        if got is None:
            return _failure("missing_prescription", f"NLL holds prescription {rx_id} but the EHR does not show it")
        if not got.patient_instruction:
            return _failure("missing_field", "the patient instruction is in NLL but the EHR shows none")
        stored = got.patient_instruction
        return _fidelity(compare(example.expected, stored, TextRules()), stored)

    def close(self) -> None:
        try:
            self.admin.close()
        finally:
            self.inbound.close()


def require_virtual_nll(profile) -> None:
    if profile.kind != "virtual":
        raise ConfigError(f"explore --integration nll is not supported against '{profile.name}' "
                          f"({profile.kind}): each example is planted in NLL through the virtual NLL's admin "
                          "API, which a real NLL does not have; explore radiology there, or use the virtual "
                          "environment")
