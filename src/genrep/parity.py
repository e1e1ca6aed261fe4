"""Like-for-like environments: every entry point of one system must behave and be configured alike.

The 2024 go-live had an extra virtual-desktop pool set up unlike the others (untested firewall rules:
login problems, harder prescribing); the load tests looked good because the pool users went through
was never tested like the rest. A profile names the entry points of a system (``entry_points:`` in
``config.profile``: application nodes, desktop pools, load-balancer members); for each this module:
- runs the smoke journey through it (``smoke_journey``: register a test patient and read it back, send a
  short report and read it back, check the multum contract's canary pair for an interaction), with
  every client built from ``Profile.through(system, entry)``;
- reads its configuration fingerprint (``read_fingerprint``: [A] ``GET [FHIR base]/$fingerprint``,
  contracts/parity.yaml) and checks it on its own (``own_problems``: integrations reachable, schedule
  templates loaded, every booking type with resources) and against the first entry point, the
  reference (``differences``).
``ParityReport`` says which entry points differ and how; ``allure_results`` turns it into Allure
results under PAR-001 (alike), PAR-002 (smoke journey) and PAR-003 (own rules) for ``genrep parity``;
the feature suite (``features/parity``) calls the same functions from its steps.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

from genrep import hl7
from genrep.config.contracts import load_multum, load_radiology
from genrep.config.parity import ParityContract, load_parity
from genrep.config.profile import EntryPoint, Profile
from genrep.errors import ConfigError, ConnectionClosed, FHIRError, ProtocolError, TransportError
from genrep.integrations.multum import PrescribingClient
from genrep.integrations.radiology import RadiologyClient, new_accession
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.testdata import patient_for
from genrep.transport.endpoints import http_transport_for

EXIT_ALIKE, EXIT_DIFFER, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3


def entry_points(profile: Profile, system: str = "ehr") -> tuple[EntryPoint, ...]:
    """The entry points ``profile`` names for ``system``; a ConfigError if it names none."""
    eps = profile.entry_points.get(system, ())
    if not eps:
        raise ConfigError(f"profile '{profile.name}' names no entry points of {system!r}: add entry_points: "
                          f"{{{system}: [{{name: ..., endpoints: {{...}}}}, ...]}} (environments/example-external.yaml)",
                          file=profile.file or None, key="entry_points")
    return eps


# -- the fingerprint --------------------------------------------------------------------------------
def read_fingerprint(profile: Profile, contract: ParityContract) -> dict:
    """The configuration fingerprint ``profile``'s ``ehr_fhir`` endpoint publishes ([A]: plain JSON, not a
    FHIR resource); TransportError when unreachable, ProtocolError on an answer that is not one."""
    transport = http_transport_for(profile, "ehr_fhir")
    try:
        resp = transport.request("GET", contract.fingerprint_path, headers={"Accept": "application/json"})
    finally:
        transport.close()
    if resp.status_code != 200:
        raise ProtocolError(f"GET {contract.fingerprint_path} answered HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProtocolError(f"the fingerprint is not a JSON object: {resp.text[:200]}")
    return body


def normalise(fp: dict) -> dict:
    """The comparable form: integrations as {name: reachable}, lists sorted (order is not configuration)."""
    integ = fp.get("integrations") if isinstance(fp.get("integrations"), dict) else {}
    booking = fp.get("booking_types") if isinstance(fp.get("booking_types"), dict) else {}
    return {"software_version": fp.get("software_version"),
            "integrations": {k: bool(isinstance(v, dict) and v.get("reachable")) for k, v in sorted(integ.items())},
            "schedule_templates": sorted(str(t) for t in fp.get("schedule_templates") or []),
            "booking_types": {k: sorted(str(r) for r in (v or [])) for k, v in sorted(booking.items())}}


def own_problems(fp: dict, contract: ParityContract) -> list[str]:
    """What one entry point's fingerprint lacks by the contract's rules, each as a sentence."""
    problems = []
    integ = fp.get("integrations") if isinstance(fp.get("integrations"), dict) else {}
    for name in contract.integrations_reachable:
        info = integ.get(name)
        if not (isinstance(info, dict) and info.get("reachable")):
            detail = info.get("detail", "") if isinstance(info, dict) else "not listed in the fingerprint"
            problems.append(f"{name} is not reachable from this entry point ({detail})")
    if contract.schedule_templates_loaded and not fp.get("schedule_templates"):
        problems.append("no schedule templates are loaded")
    if contract.booking_types_have_resources:
        booking = fp.get("booking_types") if isinstance(fp.get("booking_types"), dict) else {}
        if not booking:
            problems.append("no booking types are configured")
        problems += [f"booking type {k!r} has no resources (it cannot be booked)" for k, v in booking.items() if not v]
    return problems


def differences(reference: dict, fp: dict, contract: ParityContract, ref_name: str) -> list[str]:
    """How ``fp`` differs from the reference entry point's, field by field (the contract's ``compare``)."""
    a, b = normalise(reference), normalise(fp)
    out: list[str] = []
    for fld in contract.compare:
        ra, rb = a[fld], b[fld]
        if ra == rb:
            continue
        if fld == "integrations":
            for k in sorted(set(ra) | set(rb)):
                if ra.get(k) != rb.get(k):
                    out.append(f"integrations.{k}: {_reach(ra.get(k))} at {ref_name}, {_reach(rb.get(k))} here")
        elif fld == "schedule_templates":
            missing, extra = sorted(set(ra) - set(rb)), sorted(set(rb) - set(ra))
            out.append(f"schedule templates missing {missing}" + (f", extra {extra}" if extra else "")
                       + f" (compared with {ref_name})")
        elif fld == "booking_types":
            for k in sorted(set(ra) | set(rb)):
                if k not in rb:
                    out.append(f"booking type {k!r} is missing (present at {ref_name})")
                elif k not in ra:
                    out.append(f"booking type {k!r} is extra (absent at {ref_name})")
                elif ra[k] != rb[k]:
                    out.append(f"booking type {k!r} has resources {rb[k]} here, {ra[k]} at {ref_name}")
        else:
            out.append(f"{fld}: {rb!r} here, {ra!r} at {ref_name}")
    return out


def _reach(value) -> str:
    return "not listed" if value is None else ("reachable" if value else "not reachable")


# -- the smoke journey -------------------------------------------------------------------------------
@dataclass
class SmokeResult:
    steps: list[tuple[str, bool, str]] = field(default_factory=list)  # (step, passed, detail)
    unreachable: str = ""  # the transport error that stopped it (no verdict on the product)

    @property
    def ok(self) -> bool:
        return not self.unreachable and all(ok for _, ok, _ in self.steps)

    def failures(self) -> list[str]:
        return [f"{name}: {detail}" for name, ok, detail in self.steps if not ok]


def smoke_journey(profile: Profile, contract: ParityContract, *, guard: IdentityGuard, allowlist: Allowlist,
                  seed: str) -> SmokeResult:
    """The smoke journey through ``profile`` (already ``through`` one entry point). Stops at the first
    step that fails; a connection failure (refused, timed out, host not found) is recorded as
    ``unreachable``; an answer that is wrong (HTTP error status, broken frame, connection dropped
    after the request) is a failed step of the journey, never an outage."""
    result = SmokeResult()
    radiology = load_radiology()
    canary = load_multum().canary
    identity = allowlist.pick(zlib.crc32(seed.encode()) % 1000, kind="personnummer")
    patient = patient_for(identity, seed=seed)
    rc = RadiologyClient(profile, radiology, guard)
    presc = PrescribingClient(profile)
    try:
        ex = rc.register(patient, "A04")
        accepted = bool(ex.ack and ex.ack.accepted)
        result.steps.append(("register a test patient (ADT^A04)", accepted,
                             "AA" if accepted else f"answered {ex.ack.code if ex.ack else 'nothing'}"))
        if not accepted:
            return result
        shown = _poll(lambda: rc.find_patient(patient.identifier), contract.within_seconds,
                      radiology.poll_interval_seconds)
        result.steps.append(("read the patient back (FHIR Patient)", shown is not None,
                             "found" if shown is not None else f"not readable within {contract.within_seconds} s"))
        if shown is None:
            return result
        accession = new_accession()
        msg = rc.build_report(patient, hl7.Report(accession=accession, text=contract.report_text))
        ex = rc.send_message(msg)
        accepted = bool(ex.ack and ex.ack.accepted)
        result.steps.append(("send a report (ORU^R01)", accepted,
                             "AA" if accepted else f"answered {ex.ack.code if ex.ack else 'nothing'}"))
        if not accepted:
            return result
        reports, _ = rc.read_back(accession, within=contract.within_seconds)
        check = rc.check(contract.report_text, reports[0]) if reports else None
        result.steps.append(("read the report back (FHIR DiagnosticReport)", bool(check and check.ok),
                             "as sent" if check and check.ok else
                             (check.message()[:300] if check else f"not readable within {contract.within_seconds} s")))
        if not (check and check.ok):
            return result
        fhir_id = shown.get("id", patient.identifier)
        answer = presc.prescribe(fhir_id, [canary[0]], canary[1])
        if answer.status == "error":
            raise TransportError(answer.reason)
        found = answer.performed and answer.has_interaction(*canary)
        result.steps.append((f"interaction check {canary[0]} + {canary[1]}", found,
                             f"interaction found ({answer.server})" if found else
                             f"{answer.status}: {answer.reason or 'the known interaction was not shown'}"))
    except (ProtocolError, FHIRError, ConnectionClosed) as exc:
        # it was reached and answered wrongly (an HTTP 500, a broken frame, a dropped connection after
        # the request): the product at this entry point, never an outage
        result.steps.append(("the entry point answered the journey", False, f"{type(exc).__name__}: {exc}"))
    except TransportError as exc:  # refused, timed out, host not found: nothing verified
        result.unreachable = str(exc)
    finally:
        rc.close()
        presc.close()
    return result


def _poll(read, within: float, interval: float):
    deadline = time.monotonic() + within
    while True:
        got = read()
        if got is not None or time.monotonic() >= deadline:
            return got
        time.sleep(interval)


# -- one entry point and the whole comparison --------------------------------------------------------
@dataclass
class EntryReport:
    name: str
    kind: str
    fingerprint: dict | None = None
    unreachable: str = ""          # the fingerprint or the journey could not reach it
    smoke: SmokeResult | None = None
    problems: list[str] = field(default_factory=list)     # its own rules (PAR-003)
    differences: list[str] = field(default_factory=list)  # against the reference (PAR-001)

    @property
    def alike(self) -> bool:
        return not (self.unreachable or self.problems or self.differences or (self.smoke and not self.smoke.ok))


@dataclass
class ParityReport:
    system: str
    entries: list[EntryReport]

    @property
    def reference(self) -> str:
        return self.entries[0].name if self.entries else ""

    @property
    def exit_code(self) -> int:
        if any(e.unreachable for e in self.entries):
            return EXIT_UNREACHABLE
        return EXIT_ALIKE if all(e.alike for e in self.entries) else EXIT_DIFFER

    def lines(self) -> list[str]:
        out = [f"{self.system}: {len(self.entries)} entry points, reference {self.reference}"]
        for e in self.entries:
            out.append(f"  {e.name} ({e.kind}): " + ("alike" if e.alike else "UNREACHABLE" if e.unreachable else "DIFFERS"))
            if e.unreachable:
                out.append(f"    unreachable: {e.unreachable}")
            if e.smoke is not None:
                out += [f"    smoke journey: {f}" for f in e.smoke.failures()]
            out += [f"    configuration: {p}" for p in e.problems]
            out += [f"    differs: {d}" for d in e.differences]
        return out


def fingerprint_entry(profile: Profile, system: str, entry: EntryPoint, contract: ParityContract) -> EntryReport:
    """Read and judge on its own the fingerprint of one entry point (no journey, no comparison)."""
    rep = EntryReport(entry.name, entry.kind)
    try:
        rep.fingerprint = read_fingerprint(profile.through(system, entry.name), contract)
    except ProtocolError as exc:  # it answers, but publishes no fingerprint: nothing to compare, a problem
        rep.problems = [f"no configuration fingerprint: {exc}"]
        return rep
    except TransportError as exc:
        rep.unreachable = f"the fingerprint could not be read ({exc})"
        return rep
    rep.problems = own_problems(rep.fingerprint, contract)
    return rep


def compare_entries(entries: list[EntryReport], contract: ParityContract) -> None:
    """Fill each entry's ``differences`` against the first one with a fingerprint (the reference)."""
    ref = next((e for e in entries if e.fingerprint is not None), None)
    for e in entries:
        if ref is not None and e is not ref and e.fingerprint is not None:
            e.differences = differences(ref.fingerprint, e.fingerprint, contract, ref.name)


def run_parity(profile: Profile, system: str = "ehr", *, contract: ParityContract | None = None,
               smoke: bool = True, allowlist: Allowlist | None = None) -> ParityReport:
    """Every entry point of ``system``: the smoke journey through it, its fingerprint on its own and
    against the first entry point's."""
    contract = contract or load_parity()
    allowlist = allowlist or Allowlist.load()
    guard = IdentityGuard(allowlist)
    entries = []
    for entry in entry_points(profile, system):
        rep = fingerprint_entry(profile, system, entry, contract)
        if smoke:
            rep.smoke = smoke_journey(profile.through(system, entry.name), contract, guard=guard,
                                      allowlist=allowlist, seed=f"parity-{system}-{entry.name}")
            if rep.smoke.unreachable and not rep.unreachable:
                rep.unreachable = f"the smoke journey could not reach it ({rep.smoke.unreachable})"
        entries.append(rep)
    compare_entries(entries, contract)
    return ParityReport(system, entries)


# -- failure messages and Allure results -------------------------------------------------------------
def differ_message(entries: list[EntryReport], reference: str) -> str:
    bad = [e for e in entries if e.differences]
    return "\n".join([f"parity_differs: {len(bad)} entry point(s) differ from {reference}"]
                     + [f"  {e.name}: {d}" for e in bad for d in e.differences]) if bad else ""


def misconfigured_message(entries: list[EntryReport]) -> str:
    bad = [e for e in entries if e.problems]
    return "\n".join([f"parity_misconfigured: {len(bad)} entry point(s) miss configuration every one must have"]
                     + [f"  {e.name}: {p}" for e in bad for p in e.problems]) if bad else ""


def smoke_message(entries: list[EntryReport]) -> str:
    bad = [e for e in entries if e.smoke is not None and not e.smoke.ok and not e.smoke.unreachable]
    return "\n".join([f"parity_smoke_failed: the smoke journey failed through {len(bad)} entry point(s) "
                      f"({', '.join(e.name for e in bad)})"]
                     + [f"  {e.name}: {f}" for e in bad for f in e.smoke.failures()]) if bad else ""


def unreachable_message(entries: list[EntryReport]) -> str:
    bad = [e for e in entries if e.unreachable]
    return "\n".join([f"environment_unavailable: {len(bad)} entry point(s) could not be reached"]
                     + [f"  {e.name}: {e.unreachable}" for e in bad]) if bad else ""


def allure_results(report: ParityReport, catalogue: dict, environment: str) -> list:
    """One Allure result per requirement (PAR-001 alike, PAR-002 smoke journey, PAR-003 own rules)."""
    from genrep.results import writer
    unreachable = unreachable_message(report.entries)
    checks = (("PAR-001", "every entry point is configured alike", differ_message(report.entries, report.reference)),
              ("PAR-002", "the smoke journey passes through every entry point", smoke_message(report.entries)),
              ("PAR-003", "every entry point reaches its integrations and has its schedules",
               misconfigured_message(report.entries)))
    out = []
    for rid, title, message in checks:
        status = "broken" if unreachable else ("failed" if message else "passed")
        out.append(writer.Result(
            key=f"parity-{environment}-{report.system}-{rid}", name=f"{report.system}: {title}",
            full_name=f"genrep parity {environment} {report.system} {rid}", status=status,
            message=unreachable or message, requirements=[catalogue[rid]] if rid in catalogue else [],
            labels=[("feature", "Like-for-like entry points"), ("tag", "parity")],
            parameters=[("entry points", ", ".join(e.name for e in report.entries))],
            attachments=[writer.Attachment("parity report", "\n".join(report.lines()))]))
    return out


def write_results(report: ParityReport, results_dir, catalogue: dict, environment: str) -> list:
    from genrep.results import writer
    return writer.write(results_dir, allure_results(report, catalogue, environment),
                        writer.Producer("genrep_parity", environment))
