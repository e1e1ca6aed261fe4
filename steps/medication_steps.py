"""Medication-list steps: the patient's NLL list as the EHR shows it, compared with NLL itself.

The expected text is always read from NLL (``genrep.integrations.nll.NLLClient``), never from the step's own
memory, so the same scenario runs against a real NLL test environment. Planting content
(``NLLAdmin``) exists only in the virtual environment; NLL faults go through ``genrep.faults``
(target ``nll``: the simulator's admin API, or an external profile's command / Toxiproxy driver).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from genrep.faults import FaultDriver
from genrep.paths import PROJECT_ROOT
from genrep.text.fidelity import TextRules, compare
from genrep.integrations.medication_list import EHRMedicationClient, ShownList, compare_lists, match
from genrep.integrations.nll import NLLAdmin, NLLClient, Prescription
from genrep.results.allure import attach_text
from genrep.text.testdata import patient_for

from .patient_steps import Subject

LINE_BREAKS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
# the features' words for NLL's failures -> the fault model's names (genrep.faults.MEANINGS)
NLL_FAULTS = {"unavailable": "error503"}
GOLDEN = PROJECT_ROOT / "fixtures" / "nll" / "golden.json"


@dataclass
class MedicationScenario:
    subject: Subject
    nll: NLLClient
    ehr: EHRMedicationClient
    admin: NLLAdmin | None
    planted: list[dict] = field(default_factory=list)
    shown: ShownList | None = None
    shown_by_release: dict[str, ShownList] = field(default_factory=dict)
    nll_by_release: dict[str, list[Prescription]] = field(default_factory=dict)
    release: str = "N"
    drift_report: object = None
    fault_driver: Callable[[], FaultDriver] | None = None  # asked for only when a scenario injects a fault
    nll_faulted: bool = False

    def __repr__(self) -> str:
        return "MedicationScenario()"

    external: tuple = ()  # (profile's NLL test patients, allowlist, EHR inbound client) for a real NLL

    def nll_fails(self, fault: str) -> None:
        """Make NLL fail as ``fault`` says (``genrep.faults``, target ``nll``)."""
        assert self.fault_driver is not None, "no fault driver for this scenario"
        driver = self.fault_driver()
        self.nll_faulted = True  # recorded first: a half-applied fault is still cleared
        driver.inject("nll", fault)
        attach_text("NLL fault", f"{fault} injected into NLL through {driver!r}")

    def nll_recovers(self) -> None:
        assert self.fault_driver is not None, "no fault driver for this scenario"
        self.fault_driver().clear("nll")
        self.nll_faulted = False

    def plant(self, prescriptions: list[dict]) -> None:
        self.planted = prescriptions
        if self.admin is not None:
            self.admin.load(self.subject.patient.identifier, prescriptions)
            return
        # A real NLL: the harness cannot plant data. Use the test patient the profile names, whose
        # list NLL already holds; the checks compare whatever NLL holds with what the EHR shows.
        numbers, allowlist, inbound = self.external
        identities = [i for i in allowlist.identities if i.number in set(numbers)]
        assert identities, ("no_test_patient: a real NLL holds only its own test data: name an allowlisted "
                            "patient under test_patients.nll in the environment profile")
        self.subject.patient = patient_for(identities[0], seed="nll")
        self.subject.identity = identities[0]
        ex = inbound.register(self.subject.patient, "A04")
        assert ex.ack and ex.ack.accepted, f"registration_refused: {ex.ack.code if ex.ack else 'no ACK'}"
        self.subject.fhir = inbound.find_patient(self.subject.patient.identifier)
        attach_text("External NLL", f"content not planted: using the profile's NLL test patient "
                                    f"{identities[0].masked()} and the prescriptions NLL holds for them")


@pytest.fixture(scope="session")
def nll_client(environment, identity_guard):
    return NLLClient(environment, identity_guard)


@pytest.fixture(scope="session")
def nll_admin(environment, identity_guard):
    if "nll_admin" not in environment.endpoints:
        yield None
        return
    admin = NLLAdmin(environment, identity_guard)
    yield admin
    admin.close()


@pytest.fixture(scope="session")
def ehr_medications(environment):
    return EHRMedicationClient(environment)


@pytest.fixture
def med(subject, nll_client, nll_admin, ehr_medications, environment, allowlist, radiology_client, request):
    scenario = MedicationScenario(subject, nll_client, ehr_medications, nll_admin,
                                  # an external profile needs a faults section only where a fault is injected
                                  fault_driver=lambda: request.getfixturevalue("fault_driver"))
    scenario.external = (environment.test_patients.get("nll", ()), allowlist, radiology_client)
    yield scenario
    # each scenario leaves NLL as it found it (no fault; release N)
    try:
        if scenario.nll_faulted:
            scenario.nll_recovers()
    finally:
        if nll_admin is not None:
            nll_admin.release("N")


def _rx(text: str | None, **extra) -> dict:
    rx = {"id": extra.pop("id", "rx-1"), "medication": extra.pop("medication", "Alvedon 500 mg tablett"),
          "dosage_text": "1x3", "administration_instruction": "Sväljs hela med ett glas vatten.",
          "note": "Ordinerad vid vårdcentralen.", "version": 1, "status": "active"}
    if text is not None:
        rx["patient_instruction"] = text
    rx.update(extra)
    return rx


def _nll_text_rules() -> TextRules:
    return TextRules()  # line endings, NFC, trailing spaces: the same rules as radiology


# ---------------------------------------------------------------------------------- Given ---
@given(parsers.parse('NLL serves release "{release}"'))
@given(parsers.parse('NLL levererar release "{release}"'))
def given_release(med, release):
    med.release = release
    if med.admin is not None:
        med.admin.release(release)
    else:  # a real NLL serves its own release: say which one the scenario ran against
        attach_text("NLL release", f"scenario written for release {release}; a real NLL serves its own")


@given("the patient has the golden corpus prescriptions in NLL")
@given("patienten har förskrivningarna ur den gyllene korpusen i NLL")
def given_golden(med):
    med.plant(json.loads(GOLDEN.read_text(encoding="utf-8"))["prescriptions"])


@given(parsers.parse('the patient has a prescription in NLL whose instruction, with {convention} line breaks, is:'))
@given(parsers.parse('patienten har en förskrivning i NLL med doseringsanvisningen, med {convention}-radbrytningar:'))
def given_rx_convention(med, convention, docstring):
    assert convention in LINE_BREAKS, f"line-break convention must be one of {', '.join(LINE_BREAKS)}"
    med.plant([_rx(docstring.replace("\n", LINE_BREAKS[convention]))])


@given("the patient has a prescription in NLL whose instruction is:")
@given("patienten har en förskrivning i NLL med doseringsanvisningen:")
def given_rx_text(med, docstring):
    med.plant([_rx(docstring)])


@given(parsers.parse("the patient has a prescription in NLL whose instruction is {length:d} characters with åäö"))
@given(parsers.parse("patienten har en förskrivning i NLL med en doseringsanvisning på {length:d} tecken med åäö"))
def given_rx_length(med, length):
    words = ("Tag", "en", "tablett", "på", "morgonen", "före", "frukost", "med", "ett", "glas",
             "vatten;", "ät", "inte", "grapefrukt", "och", "undvik", "starkt", "solljus", "under", "kuren.")
    text, i = "", 0
    while len(text) < length:
        text += ("" if not text else " ") + words[i % len(words)]
        i += 1
    text = text[:length - 1].rstrip() + "ö"
    text = text + "å" * (length - len(text))
    assert len(text) == length and len(text.encode("utf-8")) > length
    med.plant([_rx(text)])


@given(parsers.parse('the patient has a prescription in NLL whose instruction is withheld ("{reason}")'))
@given(parsers.parse('patienten har en förskrivning i NLL där doseringsanvisningen är undanhållen ("{reason}")'))
def given_rx_absent(med, reason):
    med.plant([_rx(None, patient_instruction_absent=reason)])


@given("the patient has a prescription in NLL with an unknown modifier extension, and one without")
@given("patienten har en förskrivning i NLL med en okänd modifierExtension och en utan")
def given_rx_modifier(med):
    med.plant([_rx("1 tablett morgon och kväll.", id="rx-mod", medication="Metoprolol 50 mg tablett",
                   modifier_extension=True),
               _rx("1 tablett vid behov.", id="rx-ok", medication="Alvedon 500 mg tablett")])


@given(parsers.parse('NLL is unavailable ("{mode}")'))
@given(parsers.parse('NLL är otillgängligt ("{mode}")'))
def given_nll_fault(med, mode):
    med.nll_fails(NLL_FAULTS.get(mode, mode))


# ----------------------------------------------------------------------------------- When ---
@when("the clinician opens the medication list in the EHR")
@when("läkaren öppnar läkemedelslistan i journalen")
def when_open_list(med):
    med.shown = med.ehr.medication_list(med.subject.fhir_id)
    attach_text("Medication list shown by the EHR", _render(med.shown))


@when("NLL updates the prescription to version 2 with the instruction:")
@when("NLL uppdaterar förskrivningen till version 2 med doseringsanvisningen:")
def when_update_version(med, docstring):
    updated = [dict(rx) for rx in med.planted]
    updated[0].update(patient_instruction=docstring, version=2)
    med.plant(updated)


@when(parsers.parse('the clinician opens the medication list under release "{first}" and under release "{second}"'))
@when(parsers.parse('läkaren öppnar läkemedelslistan under release "{first}" och under release "{second}"'))
def when_open_under_releases(med, first, second):
    assert med.admin is not None, "switching NLL releases needs the virtual environment"
    for release in (first, second):
        med.admin.release(release)
        med.nll_by_release[release] = med.nll.prescriptions(med.subject.patient.identifier)
        med.shown_by_release[release] = med.ehr.medication_list(med.subject.fhir_id)
        attach_text(f"Medication list shown by the EHR (release {release})", _render(med.shown_by_release[release]))


@when("the NLL contract is checked against NLL")
@when("NLL-kontraktet kontrolleras mot NLL")
def when_contract_check(med):
    from genrep.integrations import nll_drift as drift
    from genrep.config.contracts import load_nll
    contract = load_nll()
    samples = [rx.resource for rx in med.nll.prescriptions(med.subject.patient.identifier)] if med.planted else []
    capability = med.nll.fhir.get_json("metadata", headers=med.nll._headers())
    med.drift_report = drift.compare(contract, med.nll.structure_definition(), samples, capability)
    attach_text("Contract drift report", med.drift_report.render())


def _render(shown: ShownList) -> str:
    if not shown.available:
        return f"UNAVAILABLE: {shown.message}"
    lines = [f"{len(shown.prescriptions)} prescription(s)"]
    for rx in shown.prescriptions:
        lines += [f"- {rx.medication} (v{rx.version})",
                  f"  instruction: {rx.patient_instruction!r}" if rx.patient_instruction is not None
                  else f"  instruction: ABSENT ({rx.absent_reason})",
                  f"  administration: {rx.administration_instruction!r}"]
        if len(rx.steps) > 1:  # a taper: every step, as the comparison sees them
            lines += [f"  step {n}: {step.text!r} / {step.patient_instruction!r}" for n, step in enumerate(rx.steps, 1)]
    lines += [f"warning: {w}" for w in shown.warnings]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- Then ---
def _medication_names(nll_items: list[Prescription], shown: ShownList, rules: TextRules) -> list[str]:
    """The medication (name, strength, form) of each NLL prescription against the EHR's item for it:
    ``compare_lists`` matches by id and compares the instruction texts, not what is prescribed."""
    problems = []
    for nll_rx in nll_items:
        ehr_rx = match(nll_rx, shown.prescriptions) if shown.available and not nll_rx.modifier_extensions else None
        if ehr_rx is not None and nll_rx.medication:
            result = compare(nll_rx.medication, ehr_rx.medication, rules)
            if not result.ok:
                problems.append(f"medication of '{nll_rx.medication}': " + result.summary())
    return problems


def _assert_faithful(med: MedicationScenario, shown: ShownList, nll_items: list[Prescription]) -> None:
    attach_text("NLL payload (read by the harness)",
                json.dumps([rx.resource for rx in nll_items], ensure_ascii=False, indent=1), kind="json")
    rules = _nll_text_rules()
    problems = compare_lists(nll_items, shown, rules) + _medication_names(nll_items, shown, rules)
    assert not problems, "\n".join(problems)


@then("the EHR shows every prescription as NLL holds it")
@then("journalen visar varje förskrivning så som NLL har den")
def then_faithful(med):
    nll_items = med.nll.prescriptions(med.subject.patient.identifier)
    assert nll_items, "no_data: NLL holds no prescription for the patient: nothing was verified"
    _assert_faithful(med, med.shown, nll_items)


@then(parsers.parse("NLL holds a prescription with {count:d} dosage steps"))
@then(parsers.parse("NLL har en förskrivning med {count:d} doseringssteg"))
def then_nll_steps(med, count):
    """Guards a multi-step comparison against passing on nothing: a real NLL without the golden
    corpus (or one that merges the steps) holds no such prescription, and then nothing multi-step
    was verified."""
    items = med.nll.prescriptions(med.subject.patient.identifier)
    assert any(len(rx.dosage) == count for rx in items), (
        f"no_data: NLL holds no prescription with {count} dosage steps (steps per prescription: "
        f"{[len(rx.dosage) for rx in items]}): nothing multi-step was verified")


@then("NLL's formatted dosage directions keep every word")
@then("behåller NLL:s formaterade doseringsanvisning varje ord")
def then_formatted_words(med):
    for rx in med.nll.prescriptions(med.subject.patient.identifier):
        directions = med.nll.dosage_directions(rx.id)
        formatted = directions.get("patientInstructionFormatted", "")
        attach_text(f"Formatted dosage directions ({rx.medication})", formatted)
        # wrapping may move words and hard-break a word longer than a line, but every character
        # of every word must still be there, in order
        want, got = "".join((rx.patient_instruction or "").split()), "".join(formatted.split())
        if want != got:
            lost = [w for w in (rx.patient_instruction or "").split() if w not in got]
            raise AssertionError(f"lost_words: NLL's formatted directions for '{rx.medication}' lost "
                                 f"text: {lost[:10] or 'characters'}")


@then("the EHR says NLL is unavailable, not that there are no medications")
@then("säger journalen att NLL är otillgängligt, inte att patienten saknar läkemedel")
def then_unavailable(med):
    shown = med.shown
    assert shown is not None
    assert not shown.available, (
        "empty_list_on_failure: NLL could not be read, but the EHR showed "
        + (f"a list of {len(shown.prescriptions)}" if shown.prescriptions else "an empty list ('no medications')")
        + " instead of saying NLL is unavailable")
    assert "NLL" in shown.message, f"unclear_outcome: the EHR's answer does not name NLL: {shown.message}"


@then("the prescription with the unknown modifier extension is withheld and flagged, the other is shown")
@then("hålls förskrivningen med den okända modifierExtension tillbaka och flaggas, den andra visas")
def then_modifier_flagged(med):
    shown = med.shown
    ids = {rx.id for rx in shown.prescriptions}
    assert not ({"rx-mod", "nll-rx-mod"} & ids), (
        "modifier_ignored: a prescription with an unknown modifierExtension is shown as if normal")
    assert any("modifierExtension" in w for w in shown.warnings), (
        "not_flagged: the withheld prescription is not flagged to the clinician")
    nll_items = [rx for rx in med.nll.prescriptions(med.subject.patient.identifier) if not rx.modifier_extensions]
    _assert_faithful(med, shown, nll_items)


@then("the instruction is shown as missing, not as an empty text")
@then("visas doseringsanvisningen som saknad, inte som en tom text")
def then_absent(med):
    nll_items = med.nll.prescriptions(med.subject.patient.identifier)
    assert nll_items and nll_items[0].patient_instruction is None, "NLL unexpectedly has an instruction"
    shown = med.shown.prescriptions
    assert shown, "missing_prescription: the EHR shows no prescription"
    rx = shown[0]
    assert rx.patient_instruction != "", "blank_instead_of_missing: the EHR shows an empty instruction"
    assert rx.patient_instruction is None and rx.absent_reason, (
        f"absent_not_marked: the EHR shows {rx.patient_instruction!r} without marking the instruction absent")


@then(parsers.parse('the EHR shows version "{version}" of the prescription'))
@then(parsers.parse('visar journalen version "{version}" av förskrivningen'))
def then_version(med, version):
    then_faithful(med)
    got = [rx.version for rx in med.shown.prescriptions]
    assert got == [version], f"wrong_version: the EHR shows version(s) {got}, expected only {version}"


@then("the texts shown are the same under both releases and equal NLL's")
@then("är texterna som visas desamma under båda releaserna och lika med NLL:s")
def then_same_across_releases(med):
    problems = []
    for release, shown in med.shown_by_release.items():
        for p in compare_lists(med.nll_by_release[release], shown, _nll_text_rules()):
            first, _, rest = p.partition("\n")  # keep the classification at the start of the line
            problems.append(f"{first} (under NLL release {release})" + (f"\n{rest}" if rest else ""))
    assert not problems, "\n".join(problems)


@then("the contract check reports no breaking drift")
@then("rapporterar kontraktskontrollen ingen bakåtinkompatibel ändring")
def then_no_drift(med):
    report = med.drift_report
    assert not report.breaking, "contract_drift: " + report.render()


@then(parsers.parse('the contract check reports breaking drift of "{path}": {detail}'))
@then(parsers.parse('rapporterar kontraktskontrollen en bakåtinkompatibel ändring av "{path}": {detail}'))
def then_drift(med, path, detail):
    report = med.drift_report
    assert report.breaking, "drift_not_detected: the contract check found no breaking change\n" + report.render()
    hits = [c for c in report.changes if c.path == path and c.breaking]
    assert hits, f"drift_not_detected: no breaking change reported for {path}\n" + report.render()
    assert any(detail in c.detail for c in hits), (
        f"drift_misreported: {path} reported as {[c.detail for c in hits]}, expected it to mention '{detail}'")
