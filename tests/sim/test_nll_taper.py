"""A multi-step dosage (a taper) over real sockets: the NLL simulator serves one dosageInstruction
per step (sequence 1..3, each with text and timing) in both releases, the harness's NLL client
reads all three, and the mutation operator that keeps only the first step, run in a real proxy in
front of NLL, is seen by the list comparison as two missing steps.

The taper is the golden corpus's ``gc-7``, the prescription the medication-list features plant.
"""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from genrep.integrations.medication_list import ShownList, compare_lists
from genrep.mutate.message import OUTBOUND
from genrep.mutate.operators import select
from genrep.mutate.proxy import HTTPProxy, Switch
from genrep.paths import PROJECT_ROOT
from genrep.sim import nll_releases as rel
from genrep.text.fidelity import TextRules

# the NLL simulator of this module (one per module, reset around each test) and its helpers
from .test_nll_sim import PNR, admin, clean, directions, get, nll, provider, put_patient, search  # noqa: F401

GOLDEN = json.loads((PROJECT_ROOT / "fixtures" / "nll" / "golden.json").read_text(encoding="utf-8"))["prescriptions"]
TAPER = next(rx for rx in GOLDEN if rx["id"] == "gc-7")
TEXTS = ["2 tabletter morgon i 3 dagar", "1 tablett morgon i 3 dagar", "1/2 tablett morgon i 3 dagar"]
ADMIN = TAPER["administration_instruction"]


@pytest.mark.parametrize("release", ["N", "N+1"])
def test_the_taper_is_served_as_three_dosage_steps(nll, release):
    admin(nll, "release", {"release": release})
    put_patient(nll, GOLDEN)
    bundle = search(nll)  # validated as R4 Bundle and MedicationRequests
    res = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "gc-7")
    MedicationRequest.model_validate(res)  # a Dosage's sequence and timing are R4's
    steps = res["dosageInstruction"]
    assert [d["sequence"] for d in steps] == [1, 2, 3]
    assert [d["text"] for d in steps] == TEXTS
    for d in steps:
        assert d["timing"] == {"repeat": {"boundsDuration": {"value": 3, "unit": "d", "system": rel.UCUM, "code": "d"},
                                          "frequency": 1, "period": 1, "periodUnit": "d", "when": ["MORN"]}}
        if release == "N":
            assert d["additionalInstruction"] == [{"text": ADMIN}]
        else:  # moved into the extension, on every step
            assert d["extension"] == [{"url": rel.ADMIN_EXT, "valueString": ADMIN}]
    # the last step's two lines in the release's line-break convention
    assert steps[2]["patientInstruction"] == rel.render_text(TAPER["dosage_steps"][2]["patient_instruction"], release)
    # every other golden prescription keeps its one step, without a sequence
    others = [e["resource"] for e in bundle["entry"] if e["resource"]["id"] != "gc-7"]
    assert others and all(len(r["dosageInstruction"]) == 1 and "sequence" not in r["dosageInstruction"][0]
                          for r in others)
    # read by id: the same three steps
    r = get(nll, "MedicationRequest/gc-7")
    assert r.status_code == 200 and r.json()["dosageInstruction"] == steps


@pytest.mark.parametrize("release", ["N", "N+1"])
def test_the_harness_reads_all_three_steps(nll, release):
    admin(nll, "release", {"release": release})
    put_patient(nll, [TAPER])
    (rx,) = provider(nll).prescriptions(PNR)
    assert [s.sequence for s in rx.dosage] == [1, 2, 3]
    assert [s.text for s in rx.dosage] == TEXTS
    want = [s["patient_instruction"] for s in TAPER["dosage_steps"]]
    assert [s.patient_instruction.replace("\r\n", "\n") for s in rx.dosage] == want
    assert [s.administration_instruction for s in rx.dosage] == [ADMIN] * 3
    # the one-line view is the first step's
    assert rx.dosage_text == TEXTS[0] and rx.patient_instruction == want[0]


def test_the_dosage_directions_give_every_step_in_order(nll):
    put_patient(nll, [TAPER])
    params = directions(nll, "gc-7")  # validated as R4 Parameters
    want = "\n".join(s["patient_instruction"] for s in TAPER["dosage_steps"])
    assert params["patientInstruction"] == want
    assert "".join(params["patientInstructionFormatted"].split()) == "".join(want.split())


@pytest.mark.parametrize("change,message", [
    ({"dosage_steps": []}, "list of 1 to 20 steps"),
    ({"dosage_steps": [{"patient_instruction": "x"}]}, "dosage_steps[0].text must be a non-empty string"),
    ({"dosage_steps": [{"text": "1 tablett", "dose": 1}]}, "unknown key(s) dose"),
    ({"dosage_steps": [{"text": "1 tablett", "when": "MORNING"}]}, "when must be null or one of"),
    ({"dosage_steps": [{"text": "1 tablett", "days": 0}]}, "days must be a positive integer"),
    ({"patient_instruction": "Ta 2 tabletter."}, "drop patient_instruction"),
    ({"patient_instruction_absent": "masked"}, "drop patient_instruction_absent"),
])
def test_bad_steps_are_refused_with_the_reason(nll, change, message):
    body = admin(nll, f"patients/{PNR}", {"prescriptions": [{**TAPER, **change}]}, method="PUT", status=400)
    assert message in body["error"]


def test_the_later_steps_operator_over_a_real_proxy_is_caught_by_the_list_comparison(nll):
    """``nll-later-dosage-steps-dropped`` on NLL's answer, in the proxy ``genrep mutate`` puts on the
    EHR's path to NLL: it now triggers (the taper has three steps), and comparing what passed the
    proxy with NLL's own answer gives one finding per lost step."""
    put_patient(nll, GOLDEN)
    want = provider(nll).prescriptions(PNR)
    switch = Switch()
    proxy = HTTPProxy(nll["host"], nll["port"], switch, channels=OUTBOUND["nll"], name="http-proxy-nll",
                      read_timeout=10.0).start()
    try:
        through = provider({"host": "127.0.0.1", "port": proxy.port,
                            "fhir_base": f"http://127.0.0.1:{proxy.port}/fhir"}, read=5.0)
        assert compare_lists(want, ShownList(True, through.prescriptions(PNR)), TextRules()) == []  # clean
        switch.set(select(["nll-later-dosage-steps-dropped"])[0])
        got = through.prescriptions(PNR)
        counts = switch.counts
    finally:
        switch.set(None)
        proxy.stop()
    assert counts.seen == 1 and counts.applied == 1
    assert [len(rx.dosage) for rx in got if rx.id == "gc-7"] == [1]
    problems = compare_lists(want, ShownList(True, got), TextRules())
    assert len(problems) == 2, problems
    assert all(p.startswith("missing_field: dosage step ") and "of 3 of 'Prednisolon 10 mg tablett'" in p
               for p in problems)
    assert "dosage step 2 of 3" in problems[0] and "dosage step 3 of 3" in problems[1]
