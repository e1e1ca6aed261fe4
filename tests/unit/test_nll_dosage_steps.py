"""The NLL simulator's multi-step dosages as pure functions: ``dosage_steps`` in the admin model ->
one ``dosageInstruction`` per step in both releases, read back step by step by the harness; the
golden corpus's taper is what makes ``nll-later-dosage-steps-dropped`` trigger (its pre-screen
sees an answer with several steps)."""

from __future__ import annotations

import json

import pytest

from genrep.integrations.nll import read_prescription
from genrep.mutate.message import NLL_RESPONSE, Message
from genrep.mutate.operators import select
from genrep.paths import PROJECT_ROOT
from genrep.sim import nll_releases as rel
from genrep.sim.nll import BadRequest, validate_prescriptions

GOLDEN = json.loads((PROJECT_ROOT / "fixtures" / "nll" / "golden.json").read_text(encoding="utf-8"))["prescriptions"]
PNR = "191212121212"


def _golden_clean() -> list[dict]:
    return validate_prescriptions({"prescriptions": GOLDEN})


def test_the_golden_corpus_holds_a_three_step_taper():
    taper = next(rx for rx in _golden_clean() if rx["dosage_steps"])
    assert taper["id"] == "gc-7" and len(taper["dosage_steps"]) == 3
    assert taper["dosage_text"] is None and taper["patient_instruction"] is None


@pytest.mark.parametrize("release", rel.RELEASES)
def test_each_step_is_a_dosage_with_sequence_text_and_timing(release):
    taper = next(rx for rx in _golden_clean() if rx["id"] == "gc-7")
    res = rel.medication_request(taper, PNR, release)
    rx = read_prescription(res)
    assert [s.sequence for s in rx.dosage] == [1, 2, 3]
    assert [s.text for s in rx.dosage] == [s["text"] for s in taper["dosage_steps"]]
    assert all(s.administration_instruction == taper["administration_instruction"] for s in rx.dosage)
    assert all(d["timing"]["repeat"]["boundsDuration"]["value"] == 3 for d in res["dosageInstruction"])


def test_a_step_without_timing_or_instruction_is_served_bare():
    (clean,) = validate_prescriptions({"prescriptions": [
        {"id": "rx-1", "medication": "X", "dosage_steps": [{"text": "1 tablett"}, {"text": "vid behov", "when": "HS"}]}]})
    steps = rel.medication_request(clean, PNR, "N")["dosageInstruction"]
    assert steps == [{"sequence": 1, "text": "1 tablett"},
                     {"sequence": 2, "text": "vid behov",
                      "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]}}}]
    assert rel.dosage_directions(clean, "N") == {"resourceType": "Parameters"}


def test_steps_and_a_single_instruction_exclude_each_other():
    with pytest.raises(BadRequest, match="drop dosage_text"):
        validate_prescriptions({"prescriptions": [
            {"id": "rx-1", "medication": "X", "dosage_text": "1x1", "dosage_steps": [{"text": "1 tablett"}]}]})


def test_the_later_steps_operator_applies_to_the_golden_corpus_only_through_the_taper():
    op = select(["nll-later-dosage-steps-dropped"])[0]

    def message(prescriptions):
        body = rel.searchset(prescriptions, PNR, "N")
        return Message(NLL_RESPONSE, json.dumps(body, ensure_ascii=False).encode(), "application/fhir+json",
                       "/fhir/MedicationRequest", 200)

    clean = _golden_clean()
    assert op.applies(message(clean))
    assert not op.applies(message([rx for rx in clean if not rx["dosage_steps"]]))
    out = json.loads(op.apply(message(clean)).data)
    steps = {e["resource"]["id"]: len(e["resource"]["dosageInstruction"]) for e in out["entry"]}
    assert steps["gc-7"] == 1 and set(steps.values()) == {1}
