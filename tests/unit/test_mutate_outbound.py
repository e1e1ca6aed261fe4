"""The operators on the EHR's outbound paths (what NLL and Multum answer the EHR, what the EHR asks
Multum): each one changes what it is about and says when it cannot apply (``applies`` false, the
message returned as it was); the fault relay's profile section and request handling; how
``genrep mutate`` groups operators by scenario selection, says an outbound operator is not
applicable where no outbound proxy can sit, and explains a survivor."""

from __future__ import annotations

import json
import shlex

import pytest

from genrep.errors import GenrepError
from genrep.faults import UnsupportedFault
from genrep.integrations.nll import read_prescription
from genrep.mutate.fault_relay import FaultRelay
from genrep.mutate.message import (HTTP_RESPONSE, MULTUM_REQUEST, MULTUM_RESPONSE, NLL_RESPONSE, Message,
                                   change_example)
from genrep.mutate.operators import OPERATORS, select
from genrep.mutate.run import (INTEGRATION_MARKS, NOT_APPLICABLE, Outcome, Report, _Env, _groups, derived_profile,
                               survivor_note)
from genrep.sim import nll_releases

from test_mutate_operators import LONG_INSTRUCTION, MULTUM_OK, NLL_RX, multum_message, nll_message


def op(name: str):
    return select([name])[0]


def _bundle(m: Message) -> dict:
    return json.loads(m.data)


def _rx(m: Message, rx_id: str):
    res = next(e["resource"] for e in _bundle(m)["entry"] if e["resource"]["id"] == rx_id)
    return read_prescription(res)


SHORT = [{"id": "rx-s", "medication": "Alvedon 500 mg tablett", "patient_instruction": "1 tablett vid behov.",
          "version": 1}]


def _short() -> Message:
    return nll_message(SHORT)


def test_every_outbound_operator_is_on_an_outbound_channel_of_its_integration():
    outbound = [cls(0) for cls in OPERATORS if Message(cls.channel, b"").outbound]
    assert {o.integration for o in outbound} == {"medication_list", "multum"}
    assert all(o.channel in (NLL_RESPONSE, MULTUM_RESPONSE, MULTUM_REQUEST) for o in outbound)
    for o in outbound:  # the same body on the EHR's inbound side is not theirs
        m = nll_message(NLL_RX) if o.integration == "medication_list" else multum_message(MULTUM_OK)
        assert not o.applies(Message(HTTP_RESPONSE, m.data, m.content_type, m.path, m.status)), o.name


# -- NLL: texts ----------------------------------------------------------------------------------

def test_instruction_cut_at_256_characters_only_when_longer():
    long_rx = [{**NLL_RX[0], "patient_instruction": LONG_INSTRUCTION * 2}]
    m = nll_message(long_rx)
    out = op("nll-instruction-cut-256-chars").apply(m)
    assert _rx(out, "rx-1").patient_instruction == (LONG_INSTRUCTION * 2)[:256]
    assert not op("nll-instruction-cut-256-chars").applies(_short())


def test_text_cut_at_128_bytes_drops_a_broken_character():
    out = op("nll-text-cut-128-bytes").apply(nll_message(NLL_RX))
    text = _rx(out, "rx-1").patient_instruction
    assert len(text.encode("utf-8")) <= 128 and LONG_INSTRUCTION.startswith(text) and len(text) < len(LONG_INSTRUCTION)
    assert not op("nll-text-cut-128-bytes").applies(_short())


@pytest.mark.parametrize("release", ["N", "N+1"])
def test_a_dosage_step_is_dropped_in_either_line_break_convention(release):
    out = op("nll-dosage-step-dropped").apply(nll_message(NLL_RX, release))
    got = _rx(out, "rx-1").patient_instruction.replace("\r\n", "\n").split("\n")
    want = LONG_INSTRUCTION.split("\n")
    assert len(got) == len(want) - 1 and all(line in want for line in got)
    assert not op("nll-dosage-step-dropped").applies(_short())


def test_later_dosage_steps_dropped_only_when_there_are_several():
    from test_mutate_operators import SAMPLES
    steps = dict(SAMPLES)["nll/steps"]
    out = _bundle(op("nll-later-dosage-steps-dropped").apply(steps))
    assert [d.get("sequence") for d in out["entry"][0]["resource"]["dosageInstruction"]] == [1]
    assert not op("nll-later-dosage-steps-dropped").applies(nll_message(NLL_RX))  # one step each


def test_line_breaks_doubled_or_flattened():
    n1 = nll_message(NLL_RX, "N+1")  # CRLF in release N+1
    doubled = _rx(op("nll-line-breaks-doubled").apply(n1), "rx-1").patient_instruction
    assert doubled == LONG_INSTRUCTION.replace("\n", "\r\n\r\n")
    flat = _rx(op("nll-line-breaks-to-spaces").apply(nll_message(NLL_RX)), "rx-1").patient_instruction
    assert flat == LONG_INSTRUCTION.replace("\n", " ")
    for name in ("nll-line-breaks-doubled", "nll-line-breaks-to-spaces"):
        assert not op(name).applies(_short()), name


def test_entity_encoding_and_mojibake_change_non_ascii_and_markup_only():
    enc = _rx(op("nll-text-entity-encoded").apply(nll_message(NLL_RX)), "rx-1").patient_instruction
    assert "p&#229; morgonen" in enc and "tv&#228;rt &amp; kontakta" in enc and "&gt; 39" in enc
    moji = _rx(op("nll-text-utf8-read-as-latin1").apply(nll_message(NLL_RX)), "rx-1").patient_instruction
    assert "pÃ¥ morgonen" in moji
    ascii_only = nll_message([{"id": "a", "medication": "Alvedon", "patient_instruction": "1 tablett vid behov."}])
    for name in ("nll-text-entity-encoded", "nll-text-utf8-read-as-latin1"):
        assert not op(name).applies(ascii_only), name


def test_negation_dropped():
    out = op("nll-negation-dropped").apply(nll_message(NLL_RX))
    assert "Avbryt behandlingen tvärt" in _rx(out, "rx-1").patient_instruction
    assert not op("nll-negation-dropped").applies(_short())


# -- NLL: elements ---------------------------------------------------------------------------------

@pytest.mark.parametrize("release", ["N", "N+1"])
def test_administration_instruction_dropped_in_both_release_shapes(release):
    m = nll_message(NLL_RX, release)
    assert _rx(m, "rx-1").administration_instruction == "Tas på morgonen."
    assert _rx(op("nll-administration-instruction-dropped").apply(m), "rx-1").administration_instruction is None
    assert not op("nll-administration-instruction-dropped").applies(_short())


def test_note_and_prescription_dropped():
    m = nll_message(NLL_RX)
    assert not _rx(op("nll-note-dropped").apply(m), "rx-1").note
    assert not op("nll-note-dropped").applies(_short())
    shorter = _bundle(op("nll-prescription-dropped").apply(m))
    assert [e["resource"]["id"] for e in shorter["entry"]] == ["rx-1", "rx-2"] and shorter["total"] == 2
    assert not op("nll-prescription-dropped").applies(nll_message([]))  # an empty list stays empty


def test_version_rolled_back_only_from_version_two():
    assert _rx(op("nll-version-rolled-back").apply(nll_message(NLL_RX)), "rx-1").version == "1"
    assert not op("nll-version-rolled-back").applies(_short())  # version 1 has no previous one


def test_modifier_extension_dropped_and_absent_instruction_blanked():
    m = nll_message(NLL_RX)
    assert _rx(m, "rx-3").modifier_extensions
    assert not _rx(op("nll-modifier-extension-dropped").apply(m), "rx-3").modifier_extensions
    blank = next(e["resource"] for e in _bundle(op("nll-absent-instruction-blank").apply(m))["entry"]
                 if e["resource"]["id"] == "rx-2")
    assert blank["dosageInstruction"][0]["patientInstruction"] == ""
    assert "_patientInstruction" not in blank["dosageInstruction"][0]
    for name in ("nll-modifier-extension-dropped", "nll-absent-instruction-blank"):
        assert not op(name).applies(_short()), name


# -- NLL and Multum: failures and cut answers -----------------------------------------------------

def test_a_failed_nll_read_becomes_an_empty_list_with_status_200():
    failure = op("nll-failure-as-empty-bundle")
    for m in (nll_message([], status=503, body=b'{"resourceType": "OperationOutcome"}'),
              nll_message([], body=b'{"resourceType": "Bun'),
              Message(NLL_RESPONSE, b"<html>maintenance</html>", "text/html", "/fhir/MedicationRequest", 200)):
        out = failure.apply(m)
        assert out.status == 200 and out.content_type == "application/fhir+json"
        assert _bundle(out) == {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
        assert "HTTP status" in change_example(m, out) or m.status == 200
    assert not failure.applies(nll_message(NLL_RX))  # a good answer is left alone


def test_cut_answers_are_unreadable_and_only_good_answers_are_cut():
    for name, good, bad in (("nll-answer-cut-in-half", nll_message(NLL_RX), nll_message([], status=503)),
                            ("multum-answer-cut-in-half", multum_message(MULTUM_OK),
                             multum_message({"error": "x"}, 503))):
        o = op(name)
        assert o.effect == "refusal"
        with pytest.raises(ValueError):
            json.loads(o.apply(good).data)
        assert not o.applies(bad), name


# -- Multum --------------------------------------------------------------------------------------

def test_interactions_emptied_severity_downgraded_and_drug_dropped():
    m = multum_message(MULTUM_OK)
    assert json.loads(op("multum-interactions-emptied").apply(m).data)["checks"]["drug-drug"]["interactions"] == []
    hit = json.loads(op("multum-severity-downgraded").apply(m).data)["checks"]["drug-drug"]["interactions"][0]
    assert hit["severity"] == "moderate"
    hit = json.loads(op("multum-interaction-drug-dropped").apply(m).data)["checks"]["drug-drug"]["interactions"][0]
    assert hit["drugs"] == ["warfarin"]
    nothing = json.loads(json.dumps(MULTUM_OK))
    nothing["checks"]["drug-drug"]["interactions"] = []
    for name in ("multum-interactions-emptied", "multum-severity-downgraded", "multum-interaction-drug-dropped"):
        assert not op(name).applies(multum_message(nothing)), name


def test_partial_check_shown_as_complete():
    partial = json.loads(json.dumps(MULTUM_OK))
    partial["checks"]["duplication"] = {"status": "error", "error": "failed"}
    out = json.loads(op("multum-partial-as-complete").apply(multum_message(partial)).data)
    assert out["checks"]["duplication"] == {"status": "ok", "duplicates": []}
    assert out["checks"]["drug-drug"] == MULTUM_OK["checks"]["drug-drug"]
    assert not op("multum-partial-as-complete").applies(multum_message(MULTUM_OK))


def test_a_failed_check_becomes_no_interactions():
    o = op("multum-failure-as-no-interactions")
    out = o.apply(multum_message({"error": "no Multum server answered"}, 503))
    body = json.loads(out.data)
    assert out.status == 200 and body["checks"]["drug-drug"] == {"status": "ok", "interactions": []}
    assert not o.applies(multum_message(MULTUM_OK))
    assert not o.applies(multum_message({"error": "x"}, 503, MULTUM_REQUEST))  # a request is not an answer


def test_the_check_request_loses_the_current_drugs():
    o = op("multum-request-current-drugs-dropped")
    out = o.apply(multum_message({"drugs": ["warfarin", "ibuprofen"]}, 0, MULTUM_REQUEST))
    assert json.loads(out.data) == {"drugs": ["ibuprofen"]}
    assert not o.applies(multum_message({"drugs": ["ibuprofen"]}, 0, MULTUM_REQUEST))  # nothing to lose
    assert not o.applies(multum_message(MULTUM_OK))  # the answer channel is not its own


# -- the fault relay ---------------------------------------------------------------------------------

class _Driver:
    def __init__(self):
        self.calls = []

    def inject(self, target, fault, **params):
        if fault == "oversized":
            raise UnsupportedFault("not here")
        if fault == "killed":
            raise GenrepError("the process would not die")
        self.calls.append(("inject", target, fault, params))

    def clear(self, target=None):
        self.calls.append(("clear", target))


def test_relay_profile_section_is_the_command_driver_with_every_fault_and_clear():
    relay = FaultRelay(_Driver(), "t" * 24).start()
    try:
        section = relay.profile_section({"nll": frozenset({"hang", "error503"}),
                                         "multum-a": frozenset({"version", "partial", "slow"})},
                                        python="/venv/bin/python")
        url = relay.url
    finally:
        relay.stop()
    assert section["driver"] == "command" and section["timeout"] >= 30
    nll = section["commands"]["nll"]
    assert set(nll) == {"hang", "error503", "clear"}
    assert shlex.split(nll["hang"]) == ["/venv/bin/python", "-m", "genrep.mutate.fault_relay", url, "nll", "hang"]
    assert shlex.split(section["commands"]["multum-a"]["version"])[-2:] == ["--version", "{version}"]
    assert shlex.split(section["commands"]["multum-a"]["partial"])[-2:] == ["--check", "{check}"]
    assert shlex.split(section["commands"]["multum-a"]["slow"])[-2:] == ["--delay", "{delay}"]
    assert "t" * 24 not in json.dumps(section)  # the token never goes into the profile file
    from genrep.faults import driver_for
    from genrep.config.profile import Profile, Timeouts
    external = Profile(name="x", kind="external", description="", endpoints={}, timeouts=Timeouts())
    assert repr(driver_for(external, faults=section)).startswith("CommandFaultDriver")


def test_relay_handles_inject_and_clear_and_says_why_it_cannot():
    driver = _Driver()
    relay = FaultRelay(driver, "t" * 24)
    assert relay.handle({"target": "multum-a", "action": "inject", "fault": "version",
                         "params": {"version": "2024.10"}}) == (200, {"status": "ok"})
    assert relay.handle({"target": "nll", "action": "clear"}) == (200, {"status": "ok"})
    assert driver.calls == [("inject", "multum-a", "version", {"version": "2024.10"}), ("clear", "nll")]
    assert relay.handle({"target": "nll", "action": "inject", "fault": "oversized"})[0] == 400
    code, answer = relay.handle({"target": "multum-a", "action": "inject", "fault": "killed"})
    assert code == 500 and "would not die" in answer["error"]
    assert relay.handle({"action": "explode"})[0] == 400
    assert relay.handle({"target": "nll", "action": "inject"})[0] == 400
    with pytest.raises(ValueError, match="loopback"):
        FaultRelay(driver, "t" * 24, host="0.0.0.0")
    with pytest.raises(ValueError, match="token"):
        FaultRelay(driver, "short")


# -- the run: selections, applicability, survivors --------------------------------------------------

def test_each_integration_runs_against_its_own_scenarios_unless_one_selection_is_given():
    ops = select(integrations=["all"])
    groups = _groups(ops, None, None)
    marks = {m: {ops[i].integration for i in idx} for _, m, idx in groups}
    assert marks[INTEGRATION_MARKS["medication_list"]] == {"medication_list"}
    assert marks[INTEGRATION_MARKS["multum"]] == {"multum"}
    assert marks[INTEGRATION_MARKS["registration"]] == {"registration"}
    assert sorted(i for _, _, idx in groups for i in idx) == list(range(len(ops)))
    assert _groups(ops, "final_CT_report", None) == [("final_CT_report", None, list(range(len(ops))))]


def test_outbound_operators_are_not_applicable_without_an_outbound_proxy():
    env = _Env.__new__(_Env)
    env.outbound = {}
    assert env.can_run(op("negation-word-dropped"))
    assert not env.can_run(op("nll-negation-dropped")) and not env.can_run(op("multum-severity-downgraded"))
    env.outbound = {"nll": object()}
    assert env.can_run(op("nll-negation-dropped")) and not env.can_run(op("multum-severity-downgraded"))
    report = Report("x", {}, 0, [Outcome("a", "", NLL_RESPONSE, "medication_list", "silent", status=NOT_APPLICABLE),
                                 Outcome("b", "", NLL_RESPONSE, "medication_list", "silent", status="caught")],
                    complete=True)
    scores = report.by_integration()["medication_list"]
    assert scores[NOT_APPLICABLE] == 1 and scores["score"] == 1.0  # not applicable is never judged


def test_where_no_outbound_proxy_can_sit_the_outbound_operators_say_so_and_nothing_runs(tmp_path):
    from genrep.mutate.run import _run_group

    class NoOutbound:
        outbound: dict = {}
        can_run = _Env.can_run

    def suite(*args, **kwargs):
        raise AssertionError("no scenario should run for operators that cannot apply")

    ops = [op("nll-negation-dropped"), op("multum-answer-cut-in-half")]
    report = Report("external", {}, 0, [Outcome(o.name, o.changes, o.channel, o.integration, o.effect) for o in ops])
    report.control = {"runs": []}
    _run_group(0, None, "nll", list(zip(ops, report.operators)), report, NoOutbound(), suite, tmp_path,
               deadline=0.0, prescreen=True, all_scenarios=False, progress=lambda line: None)
    assert [o.status for o in report.operators] == [NOT_APPLICABLE, NOT_APPLICABLE]
    assert all("only the virtual environment" in o.note for o in report.operators)
    assert report.control["runs"] == [] and report.by_integration()["multum"]["score"] is None


def test_a_survivor_note_says_what_it_changed_and_what_surviving_means():
    note = survivor_note(op("nll-line-breaks-doubled"), 3, 18)
    assert "3 message(s) of what NLL answered the EHR" in note and "all 18 scenario(s) passed" in note
    report = Report("x", {}, 0, [Outcome("s", "what", NLL_RESPONSE, "medication_list", "silent", status="survived",
                                         applied=3, note=note)])
    assert report.to_dict()["survivors"][0]["note"] == note


def test_the_derived_profile_carries_the_relays_faults_section():
    from genrep.config.profile import Endpoint, Profile, Timeouts
    live = Profile(name="virtual", kind="virtual", description="", timeouts=Timeouts(), endpoints={
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", "127.0.0.1", 1),
        "ehr_fhir": Endpoint("ehr_fhir", "http", "127.0.0.1", 2, base_url="http://127.0.0.1:2/fhir"),
        "nll_admin": Endpoint("nll_admin", "http", "127.0.0.1", 3, base_url="http://127.0.0.1:3/admin")})
    section = {"driver": "command", "commands": {"nll": {"hang": "x", "clear": "y"}}}
    data = derived_profile(live, 11, 12, faults=section)
    assert data["kind"] == "external" and data["faults"] == section
    assert data["endpoints"]["nll_admin"]["base_url"] == "http://127.0.0.1:3/admin"
    assert data["endpoints"]["ehr_fhir"]["base_url"] == "http://127.0.0.1:12/fhir"
    assert "faults" not in derived_profile(live, 11, 12)


def test_nll_samples_are_the_simulators_own_shapes():
    # the operators are tested on what the virtual NLL really serves (both releases)
    n, n1 = _bundle(nll_message(NLL_RX)), _bundle(nll_message(NLL_RX, "N+1"))
    assert n == nll_releases.searchset(NLL_RX, n["entry"][0]["resource"]["subject"]["identifier"]["value"], "N")
    assert "\r\n" in n1["entry"][0]["resource"]["dosageInstruction"][0]["patientInstruction"]
