"""The virtual EHR's medication module over real processes: NLL simulator -> EHR -> harness.

One clean virtual environment (NLL + EHR) per module (per xdist worker), NLL reset before each
test; every defect gets its own environment, stopped when its test ends. The harness reads the
EHR's list the way a scenario does (``EHRMedicationClient``) and NLL itself (``NLLClient``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from genrep.config.profile import load_profile
from genrep.config.contracts import load_radiology
from genrep.errors import FHIRError
from genrep.faults import driver_for
from genrep.text.fidelity import TextRules
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.integrations.medication_list import EHRMedicationClient, compare_lists
from genrep.integrations.nll import DATA_ABSENT, NLLAdmin, NLLClient
from genrep.integrations.radiology import RadiologyClient
from genrep.sim.process import start_virtual_environment
from genrep.text.testdata import patient_for

TIMEOUT = (2.0, 15.0)
NLL_TIMEOUT = 3.0  # the EHR's bound for one NLL request (genrep.sim.ehr --nll-timeout default)
BOUND = 8.0  # a generous "does not hang" bound for one EHR call while NLL misbehaves
RULES = TextRules()
GOLDEN = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "nll" / "golden.json")
                    .read_text(encoding="utf-8"))["prescriptions"]

LONG_LINE = ("Ta en tablett morgon och kväll i samband med måltid och drick ett stort glas vatten "
             "efteråt, inte på fastande mage")  # one line, far longer than any wrap width
SHORT_LINES_RAW = "Rad ett\r\nRad två\rRad tre\nRad fyra"  # CRLF, CR and LF in one text
SHORT_LINES = "Rad ett\nRad två\nRad tre\nRad fyra"
ADMIN = "Tas med vatten"  # shorter than the wrap width


@dataclass
class Env:
    venv: object
    admin: NLLAdmin
    nll: NLLClient
    ehr: EHRMedicationClient
    pnr: str
    patient_id: str
    fhir_base: str
    faults: object = None  # genrep.faults' driver: NLL faults go through it (target "nll")

    def plant(self, prescriptions: list[dict]) -> None:
        self.admin.load(self.pnr, prescriptions)

    def raw(self, patient_id: str | None = None) -> requests.Response:
        return requests.get(f"{self.fhir_base}/MedicationRequest",
                            params={"patient": patient_id or self.patient_id}, timeout=TIMEOUT)

    def shown(self) -> dict[str, dict]:
        """The EHR's MedicationRequests by id (asserting a 200 Bundle)."""
        r = self.raw()
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["resourceType"] == "Bundle"
        return {e["resource"]["id"]: e["resource"] for e in body.get("entry") or []
                if e["resource"]["resourceType"] == "MedicationRequest"}

    def close(self) -> None:
        try:
            self.admin.close()
            self.nll.fhir.transport.close()
            self.ehr.fhir.transport.close()
        finally:
            self.venv.stop()


def start_env(defects: tuple[str, ...] = ()) -> Env:
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    venv = start_virtual_environment(load_profile("virtual", defects=()), defects=defects)
    try:
        profile = venv.profile
        identity = allowlist.pick(0, kind="personnummer")
        patient = patient_for(identity)
        rad = RadiologyClient(profile, load_radiology(), guard)
        try:
            assert rad.register(patient).ack.code == "AA"
            patient_id = rad.find_patient(identity.number)["id"]
        finally:
            rad.close()
        env = Env(venv, NLLAdmin(profile, guard), NLLClient(profile, guard), EHRMedicationClient(profile),
                  identity.number, patient_id, profile.endpoint("ehr_fhir").base_url, driver_for(profile, venv))
    except BaseException:
        venv.stop()
        raise
    env.admin.reset()
    return env


@pytest.fixture(scope="module")
def env():
    e = start_env()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture(autouse=True)
def clean_nll(request):
    if "env" not in request.fixturenames:
        yield
        return
    e = request.getfixturevalue("env")
    e.admin.reset()
    yield
    e.faults.clear()
    e.admin.reset()


def patient_instruction(res: dict) -> str | None:
    return res["dosageInstruction"][0].get("patientInstruction")


def admin_instruction(res: dict) -> str | None:
    extra = res["dosageInstruction"][0].get("additionalInstruction") or []
    return extra[0].get("text") if extra else None


# -- clean behaviour ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("Rad ett\nRad två\nRad tre", "Rad ett\nRad två\nRad tre"),
    ("Rad ett\r\nRad två\r\nRad tre", "Rad ett\nRad två\nRad tre"),
    ("Rad ett\rRad två\rRad tre", "Rad ett\nRad två\nRad tre"),
    (SHORT_LINES_RAW, SHORT_LINES),
    ("Stycke ett\n\nStycke två", "Stycke ett\n\nStycke två"),
], ids=["LF", "CRLF", "CR", "mixed", "blank-line"])
def test_line_breaks_shown_as_lf_with_every_word(env, raw, expected):
    env.plant([{"id": "rx-lb", "medication": "Alvedon 500 mg", "patient_instruction": raw,
                "note": raw, "dosage_text": raw}])
    res = env.shown()["nll-rx-lb"]
    assert patient_instruction(res) == expected
    assert res["dosageInstruction"][0]["text"] == expected
    assert res["note"] == [{"text": expected}]


@pytest.mark.parametrize("release", ["N", "N+1"])
def test_both_releases_show_administration_instruction(env, release):
    env.admin.release(release)
    env.plant([{"id": "rx-1", "medication": "Alvedon 500 mg", "patient_instruction": "Rad ett\nRad två",
                "dosage_text": "1x3", "administration_instruction": ADMIN, "note": "Anteckning", "version": 3}])
    res = env.shown()["nll-rx-1"]
    assert admin_instruction(res) == ADMIN
    assert patient_instruction(res) == "Rad ett\nRad två"  # N+1 serves \r\n: shown as \n
    assert res["meta"]["versionId"] == "3"
    assert res["subject"]["reference"] == f"Patient/{env.patient_id}"


@pytest.mark.parametrize("release", ["N", "N+1"])
def test_golden_corpus_is_shown_faithfully_in_both_releases(env, release):
    env.admin.release(release)
    env.plant(GOLDEN)
    nll_items = env.nll.prescriptions(env.pnr)
    assert len(nll_items) == len(GOLDEN)
    shown = env.ehr.medication_list(env.patient_id)
    assert shown.available and len(shown.prescriptions) == len(GOLDEN)
    assert compare_lists(nll_items, shown, RULES) == []


def test_large_list_is_shown_complete(env):
    """An NLL answer spread over many socket reads is read whole, not cut at the first chunk."""
    many = [{"id": f"rx-{i}", "medication": f"Läkemedel {i}", "patient_instruction": f"Dos {i}. " + "å" * 800,
             "administration_instruction": ADMIN} for i in range(120)]
    env.plant(many)
    shown = env.ehr.medication_list(env.patient_id)
    assert shown.available, shown.message
    assert len(shown.prescriptions) == 120
    assert compare_lists(env.nll.prescriptions(env.pnr), shown, RULES) == []


def test_unknown_modifier_extension_is_withheld_and_flagged(env):
    env.plant([{"id": "rx-ok", "medication": "Alvedon 500 mg", "patient_instruction": "1 tablett"},
               {"id": "rx-mod", "medication": "Waran 2,5 mg", "patient_instruction": "Enligt schema",
                "modifier_extension": True}])
    r = env.raw()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1
    ids = [e["resource"]["id"] for e in body["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
    assert ids == ["nll-rx-ok"]
    outcomes = [e for e in body["entry"] if e["resource"]["resourceType"] == "OperationOutcome"]
    assert len(outcomes) == 1 and outcomes[0]["search"]["mode"] == "outcome"
    issue = outcomes[0]["resource"]["issue"][0]
    assert issue["severity"] == "warning" and "rx-mod" in issue["diagnostics"]
    assert "modifierExtension" in issue["diagnostics"]
    shown = env.ehr.medication_list(env.patient_id)
    assert [p.id for p in shown.prescriptions] == ["nll-rx-ok"]
    assert len(shown.warnings) == 1 and "rx-mod" in shown.warnings[0]


@pytest.mark.parametrize("reason", ["masked", "unknown"])
def test_absent_instruction_carried_as_data_absent_reason(env, reason):
    env.plant([{"id": "rx-a", "medication": "Waran 2,5 mg", "patient_instruction_absent": reason,
                "dosage_text": "Enligt schema"}])
    dosage = env.shown()["nll-rx-a"]["dosageInstruction"][0]
    assert "patientInstruction" not in dosage  # never ""
    assert dosage["_patientInstruction"] == {"extension": [{"url": DATA_ABSENT, "valueCode": reason}]}
    rx = env.ehr.medication_list(env.patient_id).prescriptions[0]
    assert rx.patient_instruction is None and rx.absent_reason == reason


def test_instruction_without_reason_is_shown_absent_unknown(env):
    env.plant([{"id": "rx-n", "medication": "Waran 2,5 mg", "dosage_text": "1x1"}])
    dosage = env.shown()["nll-rx-n"]["dosageInstruction"][0]
    assert "patientInstruction" not in dosage
    assert dosage["_patientInstruction"]["extension"][0]["valueCode"] == "unknown"


def test_only_latest_version_shown_after_update(env):
    env.plant([{"id": "rx-v", "medication": "Alvedon 500 mg", "patient_instruction": "Ta 1 tablett", "version": 1}])
    first = env.shown()
    assert first["nll-rx-v"]["meta"]["versionId"] == "1"
    env.plant([{"id": "rx-v", "medication": "Alvedon 500 mg", "patient_instruction": "Ta 2 tabletter",
                "version": 2}])
    second = env.shown()
    assert list(second) == ["nll-rx-v"]
    assert second["nll-rx-v"]["meta"]["versionId"] == "2"
    assert patient_instruction(second["nll-rx-v"]) == "Ta 2 tabletter"
    shown = env.ehr.medication_list(env.patient_id)
    assert compare_lists(env.nll.prescriptions(env.pnr), shown, RULES) == []


def test_empty_nll_list_is_an_available_empty_list(env):
    shown = env.ehr.medication_list(env.patient_id)
    assert shown.available is True and shown.prescriptions == []


def test_patient_unknown_to_the_ehr_is_404(env):
    r = env.raw("pat-does-not-exist")
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    with pytest.raises(FHIRError) as info:
        env.ehr.medication_list("pat-does-not-exist")
    assert info.value.status == 404


# -- NLL faults: "NLL unavailable", never an empty list, never a hang ------------------------------------

@pytest.mark.parametrize("mode,reason", [
    ("error503", "503"),
    ("hang", "did not answer"),
    ("malformed", "malformed"),
    ("wrong-content-type", "text/html"),
    ("oversized", "larger than"),
])
def test_nll_fault_gives_503_nll_unavailable_in_bounded_time(env, mode, reason):
    env.plant([{"id": "rx-1", "medication": "Alvedon 500 mg", "patient_instruction": "1 tablett"}])
    env.faults.inject("nll", mode)
    start = time.monotonic()
    r = env.raw()
    elapsed = time.monotonic() - start
    assert elapsed < BOUND, f"the EHR took {elapsed:.1f} s with NLL fault {mode}"
    assert r.status_code == 503, r.text
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    diagnostics = body["issue"][0]["diagnostics"]
    assert "NLL unavailable" in diagnostics and reason in diagnostics
    env.faults.clear("nll")
    shown = env.ehr.medication_list(env.patient_id)  # and it recovers when NLL does
    assert shown.available and [p.id for p in shown.prescriptions] == ["nll-rx-1"]


def test_nll_fault_through_the_harness_client_is_unavailable(env):
    env.plant([{"id": "rx-1", "medication": "Alvedon 500 mg", "patient_instruction": "1 tablett"}])
    env.faults.inject("nll", "error503")
    shown = env.ehr.medication_list(env.patient_id)
    assert shown.available is False and "NLL unavailable" in shown.message
    problems = compare_lists([], shown, RULES)
    assert problems and problems[0].startswith("nll_unavailable:")


def test_ehr_without_nll_endpoint_says_so(start_ehr):
    profile, info, _sim = start_ehr()  # no --nll-url
    allowlist = Allowlist.load()
    identity = allowlist.pick(0, kind="personnummer")
    rad = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    try:
        assert rad.register(patient_for(identity)).ack.code == "AA"
        pid = rad.find_patient(identity.number)["id"]
    finally:
        rad.close()
    r = requests.get(f"{info['fhir_base']}/MedicationRequest", params={"patient": pid}, timeout=TIMEOUT)
    assert r.status_code == 503
    assert "no NLL endpoint" in r.json()["issue"][0]["diagnostics"]


# -- defects: each changes exactly the behaviour it names ----------------------------------------------

DEFECTS = ("nll-linebreaks", "nll-word-loss", "nll-release-drift", "nll-unavailable-empty")


def probe(env: Env) -> dict[str, bool]:
    """Which clean behaviours hold: one probe per NLL defect (True = behaves correctly)."""
    out = {}
    env.admin.reset()
    env.plant([{"id": "rx-lb", "medication": "Alvedon 500 mg", "patient_instruction": SHORT_LINES_RAW},
               {"id": "rx-wl", "medication": "Metformin 500 mg", "patient_instruction": LONG_LINE,
                "administration_instruction": ADMIN}])
    shown = env.shown()
    out["nll-linebreaks"] = patient_instruction(shown["nll-rx-lb"]) == SHORT_LINES
    out["nll-word-loss"] = patient_instruction(shown["nll-rx-wl"]) == LONG_LINE
    env.admin.release("N+1")
    out["nll-release-drift"] = admin_instruction(env.shown()["nll-rx-wl"]) == ADMIN
    env.admin.release("N")
    env.faults.inject("nll", "error503")
    r = env.raw()
    out["nll-unavailable-empty"] = (r.status_code == 503
                                    and r.json().get("resourceType") == "OperationOutcome")
    env.faults.clear("nll")
    env.admin.reset()
    return out


def test_clean_environment_passes_every_probe(env):
    assert probe(env) == {d: True for d in DEFECTS}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_changes_exactly_its_behaviour(defect):
    e = start_env((defect,))
    try:
        assert probe(e) == {d: d != defect for d in DEFECTS}
        if defect == "nll-unavailable-empty":  # the failure is shown as "no medications"
            e.faults.inject("nll", "error503")
            shown = e.ehr.medication_list(e.patient_id)
            assert shown.available is True and shown.prescriptions == []
        if defect == "nll-word-loss":  # the harness sees the lost words
            e.plant([{"id": "rx-wl", "medication": "Metformin 500 mg", "patient_instruction": LONG_LINE}])
            problems = compare_lists(e.nll.prescriptions(e.pnr), e.ehr.medication_list(e.patient_id), RULES)
            assert len(problems) == 1 and "lost_" in problems[0]
    finally:
        e.close()
