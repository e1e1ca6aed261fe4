"""Radiology contract operations: register, send ORU^R01 over MLLP, read back over FHIR, compare.

This is what steps and load users call; they never touch ports or payload bytes. Every outbound
message passes the identity guard before a byte is written, and "AA" is never taken as "stored":
``read_back`` polls the EHR's FHIR API until the report is readable or the contract's
``stored_within_seconds`` has passed, and only a read-back text is ever compared.

Complete read-back: an EHR shows a report in more than one place, and a clinician may read any of
them. ``find_reports`` reads every representation a DiagnosticReport serves:

* each ``presentedForm``: inline ``data`` (base64, decoded with its contentType's charset, default
  UTF-8) and ``url`` (the Binary, read with Accept = its contentType) alike, a form holding both
  giving two representations. ``text/plain`` is compared as it is; ``text/html`` as a clinician
  reads it (``html_to_text``: a real HTML parser, block elements and ``<br>`` to line breaks,
  entities decoded, whitespace as a browser shows it); any other type (PDF ...) is "not checked",
  a note of kind ``representation_not_checked``, never silently skipped, and never enough to pass:
  with no text representation at all the check fails;
* the Observations the report links (``result``): their ``valueString`` values, in ``result``
  order and joined with line breaks, are one more representation and must *equal* the report text
  (a split of the report over several Observations must still add up to all of it; an EHR that
  links only a summary Observation is reported, not passed);
* ``conclusion``: when the sent text carries a headed conclusion paragraph (``Slutsats:`` ...,
  ``text.representations.conclusion_paragraph``), the conclusion shown must *be* that paragraph,
  line-normalised (whitespace runs, line breaks included, as one space): a conclusion that lost its
  first or last words ("Slutsats: Ingen fraktur." shown as "fraktur.") is still part of the sent
  text, so "contained" alone would pass it. Without a heading it is a summary, compared as
  *contained in* the sent text at word boundaries (a conclusion cut in mid-word is not contained).
  A miss is ``conclusion_not_in_report`` with the fidelity findings against the paragraph, or the
  closest passage of the sent text.

``check_read_back`` then compares every text representation with the sent text (fidelity
findings, as before), and the representations with each other: two that disagree are a failure
of their own, ``representations_disagree``, naming both and what differs. A representation that
cannot be read or decoded is ``representation_unreadable``: a finding, never a crash.

The examination the report is for is compared too (``shown_fields.check_examination``: the code's
text or a display must be OBR-4.2), unless the contract says the EHR names it from its own catalogue.

A registration is read back too: ``shown_fields.check_registration`` compares the Patient the EHR serves after
an ADT with what PID carried (the name as text, so a folded letter or swapped components are
classified like any lost text; the birth date and sex where the message carried them), so every
scenario that registers its patient proves the registration, not only its AA.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field

from genrep import hl7
from genrep.config.profile import Profile
from genrep.config.contracts import RadiologyContract
from genrep.errors import ConnectionClosed, FHIRError, ProtocolError, ReadTimeout, TLSError
from genrep.transport.fhir import FHIRClient, validate
from genrep.integrations.shown_fields import check_examination, check_registration, findings, shown_examinations
from genrep.text.fidelity import FidelityResult, TextRules, compare, normalise
from genrep.transport.endpoints import http_transport_for, mllp_client_for
from genrep.text.identities import IdentityGuard, RunIds
from genrep.text.representations import TEXT_TYPES, conclusion_paragraph, decode_inline, html_to_text, media_type

_IDS = RunIds()  # letters only in the tag: ids never hold a personnummer-shaped digit run


def new_control_id() -> str:
    return f"GR{_IDS.tag}{_IDS.next():06d}"


def new_accession() -> str:
    """Unique per run, 14 characters: well inside a VARCHAR(20) accession."""
    return f"GR{_IDS.tag}{_IDS.next():06d}"


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


# -- the representations of a report ------------------------------------------------------------
@dataclass
class Representation:
    """One place the EHR shows the report text. ``text`` is what a clinician reads there (HTML
    already turned into text); None when it is not compared: ``problem`` then says why it could not
    be read, or (no problem) its type is not one genrep compares."""

    label: str  # "presentedForm[2] (text/html, inline)"
    content_type: str  # the media type, lower case
    text: str | None = None
    problem: str = ""
    markup: str = field(default="", repr=False)  # a text/html rendition as served

    @property
    def status(self) -> str:
        if self.problem:
            return "unreadable"
        return "compared" if self.text is not None else "not checked"


@dataclass
class StoredReport:
    """A report as the EHR shows it over FHIR: every representation read, ``text`` the first one
    that is compared (``presentedForm[0]`` on the virtual EHR), ``conclusion`` None when absent."""

    id: str
    accession: str
    status: str
    text: str
    version: str
    parent_accession: str = ""
    resource: dict = field(default_factory=dict, repr=False)
    representations: list[Representation] = field(default_factory=list, repr=False)
    conclusion: str | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list, repr=False)  # what was read and left out, and why
    examinations: list[str] = field(default_factory=list, repr=False)  # names its code shows (shown_examinations)


@dataclass
class ReadBackCheck:
    """The complete read-back compared: ``failures`` are message blocks, each opening with its
    classification (a fidelity summary or ``kind: ``); ``notes`` say what was not checked;
    ``readings`` are (name, text) pairs to attach, ``diffs`` (name, unified diff) for each
    representation that differs from the sent text."""

    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    readings: list[tuple[str, str]] = field(default_factory=list)
    diffs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def message(self) -> str:
        return "\n".join(self.failures)


def _names(reps: list[Representation]) -> str:
    return ", ".join(r.label for r in reps)


def _flat(text: str, rules: TextRules) -> str:
    """Line-normalised: the contract's normalisation, then every whitespace run as one space."""
    return " ".join(normalise(text, rules).split())


def _contains_words(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` and does not start or end in the middle of a word."""
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        cut_before = needle[:1].isalnum() and start > 0 and haystack[start - 1].isalnum()
        cut_after = needle[-1:].isalnum() and end < len(haystack) and haystack[end].isalnum()
        if not (cut_before or cut_after):
            return True
        start = haystack.find(needle, start + 1)
    return False


def _closest_passage(sent_flat: str, conclusion_flat: str) -> str:
    """The passage of the sent text a changed conclusion was most likely lifted from."""
    sw, cw = sent_flat.split(" "), conclusion_flat.split(" ")
    blocks = [b for b in difflib.SequenceMatcher(None, sw, cw, autojunk=False).get_matching_blocks() if b.size]
    if not blocks:
        return ""
    first, last = blocks[0], blocks[-1]
    start = max(0, first.a - first.b)
    end = min(len(sw), last.a + last.size + (len(cw) - last.b - last.size))
    return " ".join(sw[start:end])


def check_read_back(sent: str, stored: StoredReport, rules: TextRules | None = None, *,
                    examination: str | None = None) -> ReadBackCheck:
    """Compare every representation of ``stored`` with ``sent`` and with each other (see the module
    docstring); the conclusion as contained in ``sent``; the examination shown with ``examination``
    (OBR-4.2 as sent; None: not compared). Failures in this order: the text differs from the sent
    text (per group of representations showing the same text), representations disagree, a
    representation is unreadable, the conclusion is not in the report, the examination changed."""
    rules = rules or TextRules()
    out = ReadBackCheck(notes=list(stored.notes))
    reps = stored.representations
    texts = [r for r in reps if r.text is not None]
    unreadable = [f"representation_unreadable: {r.label}: {r.problem}" for r in reps if r.problem]
    for rep in reps:
        if rep.text is not None:
            out.readings.append((f"Text read back: {rep.label}", rep.text))
            if rep.markup:
                out.readings.append((f"HTML as served: {rep.label}", rep.markup))
        elif not rep.problem:
            out.notes.append(f"representation_not_checked: {rep.label}: {rep.content_type or 'no contentType'} "
                             f"is not compared (genrep compares {' and '.join(TEXT_TYPES)})")
    if stored.conclusion is not None:
        out.readings.append(("Conclusion read back", stored.conclusion))
    if not reps:  # nothing to read at all: as an empty text (the fidelity kind "empty")
        result = compare(sent, "", rules)
        if not result.ok:
            out.failures.append(result.summary() + "\n(the report has no presentedForm and no result "
                                                    "Observation with text)")
    elif not texts and not unreadable:
        out.failures.append(f"representation_not_checked: the report has no text representation to "
                            f"compare, only {_names(reps)}: nothing was verified")
    groups: list[list[Representation]] = []  # representations showing the same (normalised) text
    keys: list[str] = []
    for rep in texts:
        key = normalise(rep.text, rules)
        if key in keys:
            groups[keys.index(key)].append(rep)
        else:
            keys.append(key)
            groups.append([rep])
    faithful: list[bool] = []  # per group: equal to the sent text
    for members in groups:
        result = compare(sent, members[0].text, rules)
        faithful.append(result.ok)
        if result.ok:
            continue
        lines = result.summary().split("\n")
        lines[0] += (f" (the same in all {len(members)} representations)" if len(members) == len(texts) > 1
                     else f" (in {_names(members)})")
        out.failures.append("\n".join(lines))
        out.diffs.append((f"Diff sent -> {members[0].label}", result.diff()))
    for members in groups[1:]:
        reference = groups[0]
        d = compare(reference[0].text, members[0].text, rules)
        head = (f"representations_disagree: {_names(reference)} and {_names(members)} show different "
                f"text: {', '.join(d.kinds)}")
        if faithful[0]:  # the reference is the sent text: the differences are the ones listed above
            out.failures.append(f"{head} (the first shows the sent text; the differences are listed above)")
        else:
            out.failures.append("\n".join([f"{head} (below, 'sent' is {reference[0].label} and 'stored' is "
                                           f"{members[0].label})", *findings(d)]))
        out.diffs.append((f"Diff {reference[0].label} -> {members[0].label}", d.diff()))
    out.failures += unreadable
    if stored.conclusion is not None and stored.conclusion.strip():
        sent_flat, concl_flat = _flat(sent, rules), _flat(stored.conclusion, rules)
        paragraph = _flat(conclusion_paragraph(sent), rules)
        if paragraph and concl_flat != paragraph:
            d = compare(paragraph, concl_flat, rules)
            out.failures.append("\n".join([
                f"conclusion_not_in_report: the conclusion the EHR shows is not the report's conclusion paragraph: "
                f"{', '.join(d.kinds) or 'changed'} (below, 'sent' is the paragraph under the conclusion heading)",
                *findings(d)]))
        elif not paragraph and not _contains_words(sent_flat, concl_flat):
            d = compare(_closest_passage(sent_flat, concl_flat), concl_flat, rules)
            out.failures.append("\n".join([
                f"conclusion_not_in_report: the conclusion the EHR shows is not part of the sent text: "
                f"{', '.join(d.kinds)} (below, 'sent' is the closest passage of the sent text)", *findings(d)]))
    if examination is not None:
        failure, note = check_examination(examination, stored.examinations, rules)
        out.failures += [failure] if failure else []
        out.notes += [note] if note else []
        if stored.examinations:
            out.readings.append(("Examination read back", "\n".join(stored.examinations)))
    return out


class RadiologyClient:
    """Talks to one environment (virtual or real) under one contract."""

    def __init__(self, profile: Profile, contract: RadiologyContract, guard: IdentityGuard):
        self.profile, self.contract, self.guard = profile, contract, guard
        # the MLLP endpoint's ack_mode (MSH-15/16 of every message built here) and documented code
        # pages (how MSH-18 values are written and the answers read): the one place they apply
        endpoint = profile.endpoint("radiology_mllp")
        self.ack_mode, self.code_pages = endpoint.ack_mode, endpoint.code_page_map
        self.mllp = mllp_client_for(profile, endpoint, max_frame=max(contract.max_message_bytes * 2, 1 << 20))
        self.fhir = FHIRClient(http_transport_for(profile, "ehr_fhir"))

    def __repr__(self) -> str:
        return f"RadiologyClient({self.profile.name})"

    def close(self) -> None:
        self.mllp.close()
        self.fhir.transport.close()

    # -- sending ----------------------------------------------------------------------------
    def _send(self, message: str, payload: bytes | None = None) -> Exchange:
        payload = hl7.encode(message, self.code_pages) if payload is None else payload
        self.guard.check(payload, destination=self.mllp.endpoint)  # before any byte leaves
        start = time.monotonic()
        raw = self.mllp.send(payload)
        return Exchange(message, payload, hl7.parse_ack(raw, self.code_pages), raw, time.monotonic() - start)

    def register(self, patient: hl7.Patient, event: str = "A04", *, charset: str | None = None,
                 patient_class: str = "E", location: str = "", prior_location: str = "") -> Exchange:
        """ADT: A04 register, A01 admit, A02 transfer, A03 discharge, A08 update."""
        msg = hl7.build_adt(event, patient, control_id=new_control_id(),
                            charset=self.contract.charset if charset is None else charset,
                            patient_class=patient_class, location=location, prior_location=prior_location,
                            ack_mode=self.ack_mode)
        return self._send(msg)

    def send_order(self, patient: hl7.Patient, order: hl7.Order) -> Exchange:
        """ORM^O01: a radiology referral placed in the EHR's order list."""
        return self._send(hl7.build_orm(patient, order, control_id=new_control_id(),
                                        charset=self.contract.charset, ack_mode=self.ack_mode))

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
                             segment_terminator=segment_terminator, ack_mode=self.ack_mode)

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
        ack = hl7.parse_ack(raw, self.code_pages) if raw else None
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
        """Every representation the report serves, read (see the module docstring)."""
        notes: list[str] = []
        reps = self._forms(res) + self._observations(res, notes)
        conclusion = res.get("conclusion")
        parent = next((e.get("valueString", "") for e in res.get("extension", []) or []
                       if e.get("url") == "urn:genrep:parent-accession"), "")
        return StoredReport(id=res.get("id", ""), accession=accession, status=res.get("status", ""),
                            text=next((r.text for r in reps if r.text is not None), ""),
                            version=(res.get("meta") or {}).get("versionId", ""),
                            parent_accession=parent, resource=res, representations=reps,
                            conclusion=conclusion if isinstance(conclusion, str) else None, notes=notes,
                            examinations=shown_examinations(res))

    def _forms(self, res: dict) -> list[Representation]:
        out: list[Representation] = []
        forms = res.get("presentedForm") or []
        for i, form in enumerate(forms if isinstance(forms, list) else []):
            if not isinstance(form, dict):
                out.append(Representation(f"presentedForm[{i}]", "", problem="not an Attachment"))
                continue
            ctype = form.get("contentType") if isinstance(form.get("contentType"), str) else ""
            # no contentType: the contract's agreed type (the Binary Accept rule)
            mime = media_type(ctype)[0] or media_type(self.contract.read_back_content_type)[0]
            if "data" not in form and not form.get("url"):
                out.append(Representation(f"presentedForm[{i}] ({mime})", mime,
                                          problem="neither data nor url: a title with no text"))
            if "data" in form:
                out.append(self._represent(f"presentedForm[{i}] ({mime}, inline)", mime,
                                           lambda: decode_inline(form["data"], ctype)))
            if form.get("url"):
                url = str(form["url"])
                out.append(self._represent(f"presentedForm[{i}] ({mime}, {url})", mime,
                                           lambda: self.fhir.binary_text(url, mime)))
        return out

    @staticmethod
    def _represent(label: str, mime: str, read) -> Representation:
        """Read one representation of a type genrep compares; a read or decode error is its
        ``problem`` (a finding), a transport failure (timeout, TLS) goes on up."""
        if mime not in TEXT_TYPES:
            return Representation(label, mime)  # not checked (and not fetched)
        try:
            text = read()
        except TLSError:
            raise
        except (ValueError, FHIRError, ProtocolError) as exc:
            return Representation(label, mime, problem=str(exc))
        if mime == "text/html":
            return Representation(label, mime, text=html_to_text(text), markup=text)
        return Representation(label, mime, text=text)

    def _observations(self, res: dict, notes: list[str]) -> list[Representation]:
        """The ``valueString`` of the Observations ``result`` links, joined in order: one
        representation (none when no linked Observation holds text)."""
        refs = res.get("result") or []
        contained = {c.get("id"): c for c in res.get("contained") or [] if isinstance(c, dict)}
        values: list[str] = []
        for j, ref in enumerate(refs if isinstance(refs, list) else []):
            target = ref.get("reference") if isinstance(ref, dict) else None
            label = f"result[{j}] ({target or 'no reference'})"
            if not isinstance(target, str) or not target:
                notes.append(f"{label}: no reference, not read")
                continue
            try:
                if target.startswith("#"):
                    obs = contained.get(target[1:])
                    if obs is None:
                        raise ProtocolError(f"contained resource {target} not found")
                else:
                    obs = self.fhir.get_json(target)
                    validate(obs)
            except TLSError:
                raise
            except (FHIRError, ProtocolError) as exc:
                return [Representation(f"Observation {label}", "observation", problem=str(exc))]
            if obs.get("resourceType") != "Observation":
                notes.append(f"{label}: a {obs.get('resourceType')}, not an Observation: not compared")
            elif isinstance(obs.get("valueString"), str):
                values.append(obs["valueString"])
            else:
                notes.append(f"{label}: no valueString (not text): not compared")
        if not values:
            return []
        return [Representation(f"Observation.valueString ({len(values)} linked by result)", "observation",
                               text="\n".join(values))]

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

    def check_registration(self, sent: hl7.Patient, shown: dict) -> list[str]:
        """The registration read back: ``check_registration`` under the contract's text rules."""
        return check_registration(sent, shown, self.contract.text_rules())

    def compare(self, sent_text: str, stored_text: str) -> FidelityResult:
        return compare(sent_text, stored_text, self.contract.text_rules())

    def check(self, sent_text: str, stored: StoredReport, *, examination: str | None = None) -> ReadBackCheck:
        """Every representation of ``stored`` against the sent text and each other (contract rules);
        the examination shown against ``examination`` (OBR-4.2 as sent) unless the contract's
        ``read_back.examination`` is ``not_compared``."""
        if self.contract.read_back_examination != "as_sent":
            examination = None
        return check_read_back(sent_text, stored, self.contract.text_rules(), examination=examination)
