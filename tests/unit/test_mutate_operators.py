"""The corruption operators of ``genrep mutate``: every operator changes a sample message, is
deterministic, keeps the message parseable when its point is silent loss, and changes what a
clinician would see (the text read back, the patient, the served report)."""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil

import pytest

from genrep import hl7
from genrep.hl7.parse import CharsetMismatch, decode, parse, patient_from, report_text
from genrep.mutate import operators
from genrep.mutate.hl7view import HL7View, edit_text
from genrep.mutate.message import CHANNELS, HTTP_RESPONSE, MLLP_INBOUND, Message, change_example
from genrep.sim import nll_releases
from genrep.mutate.operators import OPERATORS, catalogue, select
from genrep.mutate.operators.base import Operator, fhir_kind
from genrep.text import corpus
from genrep.text.fidelity import TextRules, compare
from genrep.text.identities import Allowlist

TEXT = ("DT THORAX\n"
        "\n"
        "Fynd: Ingen blödning, ej fraktur. Nodulus 4,5 mm & <b>kontroll</b> – ”ingen” ruptur.\n"
        "\tIndraget: ökning ~ 12|14 mm ^ tidigare i vänster lårben, en mening som är längre än åttio tecken.\n"
        "\n"
        "Slutsats: Inga akuta fynd.")
HEX_VALUE = "Ingen fraktur.\\X0D0A\\Hj\\XC3A4\\rtat normalt.\\.br\\Slutsats: ingen \\XC3A5\\tg\\XC3A4\\rd."
PLACEHOLDER = "GENREP-RAW-VALUE"


def _patient():
    ident = Allowlist.load().pick(7, kind="personnummer")
    return hl7.Patient(identifier=ident.number, family="Åström", given="Björn", birth_date="19800212", sex="M")


def _oru(text: str, convention: str) -> bytes:
    msg = hl7.build_oru(_patient(), hl7.Report(accession="GRTEST000001", text=text), control_id="C1",
                        convention=convention)
    return hl7.encode(msg)


def _samples() -> list[tuple[str, Message]]:
    out = []
    for convention in hl7.CONVENTIONS:
        out.append((f"text/{convention}", Message(MLLP_INBOUND, _oru(TEXT, convention))))
        out.append((f"long/{convention}", Message(MLLP_INBOUND, _oru(corpus.generated_paragraph(6), convention))))
    raw = hl7.build_oru(_patient(), hl7.Report(accession="GRTEST000002", text=PLACEHOLDER), control_id="C2",
                        convention="ft-br").replace(PLACEHOLDER, HEX_VALUE)
    out.append(("hex/ft-br", Message(MLLP_INBOUND, hl7.encode(raw))))
    adt = hl7.build_adt("A04", _patient(), control_id="C3")
    out.append(("adt", Message(MLLP_INBOUND, hl7.encode(adt))))
    report_text_long = corpus.generated_paragraph(2)
    dr = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "DiagnosticReport", "id": "RPT-1", "status": "final", "code": {"text": "DT thorax"},
        "presentedForm": [{"contentType": "text/plain; charset=utf-8", "url": "Binary/RPT-1-text",
                           "title": "DT thorax med kontrast"}]}}]}
    out.append(("DiagnosticReport", Message(HTTP_RESPONSE, json.dumps(dr).encode(), "application/fhir+json",
                                            "/fhir/DiagnosticReport?identifier=GRX", 200)))
    inline = json.loads(json.dumps(dr))
    form = inline["entry"][0]["resource"]["presentedForm"][0]
    form["data"] = base64.b64encode(report_text_long.encode()).decode()
    out.append(("DiagnosticReport/inline", Message(HTTP_RESPONSE, json.dumps(inline).encode(),
                                                   "application/fhir+json", "/fhir/DiagnosticReport?identifier=GRX", 200)))
    binary = {"resourceType": "Binary", "id": "RPT-1-text", "contentType": "text/plain",
              "data": base64.b64encode(report_text_long.encode()).decode()}
    out.append(("Binary/json", Message(HTTP_RESPONSE, json.dumps(binary).encode(), "application/fhir+json",
                                       "/fhir/Binary/RPT-1-text", 200)))
    out.append(("Binary/text", Message(HTTP_RESPONSE, (TEXT + "\n" + report_text_long).encode(),
                                       "text/plain; charset=utf-8", "/fhir/Binary/RPT-1-text", 200)))
    meds = {"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "MedicationRequest", "id": "m1",
        "dosageInstruction": [{"text": "1 tablett 500 mg morgon och kväll",
                               "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]}}]}
    out.append(("MedicationRequest", Message(HTTP_RESPONSE, json.dumps(meds, ensure_ascii=False).encode(),
                                             "application/fhir+json", "/fhir/MedicationRequest?patient=P1", 200)))
    return out + outbound_samples()


NLL_PATH = "/fhir/MedicationRequest?patient.identifier=http%3A%2F%2Fexample%7CX"
LONG_INSTRUCTION = ("Dag 1–3: 8 tabletter på morgonen i samband med frukost\n"
                    "Dag 4–6: 6 tabletter på morgonen i samband med frukost\n"
                    "Dag 7–9: 4 tabletter på morgonen i samband med frukost\n"
                    "Dag 10–12: 2 tabletter på morgonen; därefter uppehåll.\n"
                    "Avbryt inte behandlingen tvärt & kontakta vårdcentralen vid feber > 39 grader.")
NLL_RX = [{"id": "rx-1", "medication": "Prednisolon 5 mg tablett", "dosage_text": "Nedtrappning enligt schema",
           "patient_instruction": LONG_INSTRUCTION, "administration_instruction": "Tas på morgonen.",
           "note": "Behandlingstid 12 dagar.", "version": 2},
          {"id": "rx-2", "medication": "Alvedon 500 mg tablett", "dosage_text": "1x3",
           "patient_instruction_absent": "masked"},
          {"id": "rx-3", "medication": "Metoprolol 50 mg tablett", "patient_instruction": "1 tablett morgon.",
           "modifier_extension": True}]
MULTUM_OK = {"server": "multum-a", "content_version": "2024.11", "drugs": ["warfarin", "ibuprofen"],
             "unknown_drugs": [], "checks": {
                 "drug-drug": {"status": "ok", "interactions": [
                     {"drugs": ["warfarin", "ibuprofen"], "severity": "major",
                      "description": "Ökad blödningsrisk."}]},
                 "duplication": {"status": "ok", "duplicates": []}}}


def nll_message(prescriptions, release="N", status=200, body: bytes | None = None) -> Message:
    data = body if body is not None else json.dumps(
        nll_releases.searchset(prescriptions, _patient().identifier, release), ensure_ascii=False).encode()
    return Message("nll-response", data, "application/fhir+json", NLL_PATH, status)


def multum_message(answer, status=200, channel="multum-response") -> Message:
    return Message(channel, json.dumps(answer, ensure_ascii=False).encode(), "application/json", "/interactions",
                   status)


def outbound_samples() -> list[tuple[str, Message]]:
    """What NLL and Multum answer the EHR (and what the EHR asks Multum), in the simulators' shapes."""
    steps = json.loads(nll_message(NLL_RX[:1]).data)  # a taper as two dosage steps (sequence 1, 2)
    dosage = steps["entry"][0]["resource"]["dosageInstruction"]
    dosage[0]["sequence"] = 1
    dosage.append({"sequence": 2, "text": "Därefter 1 tablett dagligen",
                   "patientInstruction": "Dag 13–20: 1 tablett."})
    partial = json.loads(json.dumps(MULTUM_OK))
    partial["checks"]["duplication"] = {"status": "error", "error": "duplication check failed"}
    return [("nll/N", nll_message(NLL_RX)), ("nll/N+1", nll_message(NLL_RX, "N+1")),
            ("nll/steps", nll_message([], body=json.dumps(steps, ensure_ascii=False).encode())),
            ("nll/error503", nll_message([], status=503, body=json.dumps(
                {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient"}]}).encode())),
            ("nll/malformed", nll_message([], body=b'{"resourceType": "Bundle", "entry": [{"reso')),
            ("multum/ok", multum_message(MULTUM_OK)), ("multum/partial", multum_message(partial)),
            ("multum/503", multum_message({"error": "interaction check not performed: no Multum server"}, 503)),
            ("multum/request", multum_message({"drugs": ["warfarin", "ibuprofen"]}, 0, "multum-request"))]


SAMPLES = _samples()
RULES = TextRules()


def _hits(op: Operator) -> list[tuple[str, Message]]:
    return [(name, m) for name, m in SAMPLES if op.applies(m)]


def test_the_catalogue_has_at_least_twenty_operators_with_unique_names_and_a_description():
    ops = catalogue()
    assert len(ops) >= 20
    assert len({o.name for o in ops}) == len(ops)
    for o in ops:
        assert o.changes and o.integration and o.effect in ("silent", "refusal")
        assert o.channel in CHANNELS and o.targets
    assert sum(o.integration == "radiology" for o in ops) >= 20
    assert {o.integration for o in ops} == {"radiology", "registration", "medication_list", "multum"}
    assert sum(Message(o.channel, b"").outbound for o in ops) >= 20  # NLL and Multum, what they answer the EHR


def test_one_operator_per_module():
    found = []
    for info in pkgutil.iter_modules(operators.__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"genrep.mutate.operators.{info.name}")
        defined = [v for v in vars(module).values()
                   if isinstance(v, type) and issubclass(v, Operator) and v.__module__ == module.__name__]
        assert len(defined) == 1, f"{info.name} defines {len(defined)} operators"
        found.append(defined[0])
    assert set(found) == set(OPERATORS)


@pytest.mark.parametrize("op", catalogue(), ids=lambda o: o.name)
def test_every_operator_changes_a_sample_and_only_where_it_applies(op):
    hits = _hits(op)
    assert hits, f"{op.name} applies to none of the samples"
    for name, m in hits:
        assert op.apply(m).data != m.data, f"{op.name} applies to {name} but changes nothing"
    for name, m in SAMPLES:
        if (name, m) not in hits:
            assert op.apply(m) is m, f"{op.name} changed {name} though it does not apply"


@pytest.mark.parametrize("op", catalogue(), ids=lambda o: o.name)
def test_every_operator_is_deterministic_given_a_seed(op):
    again = type(op)(op.seed)
    for _, m in _hits(op):
        assert op.apply(m).data == again.apply(m).data == op.apply(m).data


def test_the_seed_drives_the_choices():
    m = Message(MLLP_INBOUND, _oru(corpus.load_report("dt_thorax"), "obx-per-line"))
    cls = next(c for c in OPERATORS if c.name == "obx-segment-duplicated")
    outputs = {cls(seed).apply(m).data for seed in range(12)}
    assert len(outputs) > 1


def _text_of(data: bytes) -> str:
    return report_text(parse(decode(data)))


@pytest.mark.parametrize("op", [o for o in catalogue() if o.channel == MLLP_INBOUND], ids=lambda o: o.name)
def test_inbound_operators_keep_the_message_parseable_and_change_what_is_seen(op):
    for name, m in _hits(op):
        out = op.apply(m).data
        if op.effect == "refusal":
            with pytest.raises(CharsetMismatch):
                decode(out)  # a correct receiver refuses it
            continue
        message = parse(decode(out))  # silent loss: the receiver parses and stores it
        if "ADT" in op.targets:
            assert patient_from(message) != patient_from(parse(decode(m.data))), name
        else:
            result = compare(_text_of(m.data), report_text(message), RULES)
            assert not result.ok, f"{op.name} on {name}: the stored text would read the same"


def _served_text(m: Message) -> str:
    """What a reader of the FHIR response would show: the Binary text, inline data or the title."""
    if m.is_text:
        return m.data.decode("utf-8")
    return json.dumps(json.loads(m.data), sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("op", [o for o in catalogue() if o.channel == HTTP_RESPONSE], ids=lambda o: o.name)
def test_response_operators_keep_the_body_readable_and_change_it(op):
    for name, m in _hits(op):
        out = op.apply(m)
        if m.is_json:
            json.loads(out.data)
        assert _served_text(out) != _served_text(m), name


def test_base64_cut_stays_decodable():
    op = next(o for o in catalogue() if o.name == "attachment-base64-cut")
    _, m = next((n, m) for n, m in SAMPLES if n == "Binary/json")
    data = json.loads(op.apply(m).data)["data"]
    assert base64.b64decode(data, validate=True)


def test_operators_leave_other_channels_and_foreign_bytes_alone():
    junk = [Message(MLLP_INBOUND, b"not hl7 at all"), Message(MLLP_INBOUND, b""),
            Message(HTTP_RESPONSE, b"{not json", "application/json", "/fhir/DiagnosticReport", 200),
            Message(HTTP_RESPONSE, b'{"resourceType":"OperationOutcome"}', "application/fhir+json",
                    "/fhir/DiagnosticReport", 404),
            Message("mllp-outbound", _oru(TEXT, "obx-per-line"))]
    for op in catalogue():
        for m in junk:
            assert not op.applies(m) and op.apply(m) is m, (op.name, m)


@pytest.mark.parametrize("convention", hl7.CONVENTIONS)
def test_view_round_trips_bytes_and_rewrites_lines_in_the_same_convention(convention):
    data = _oru(corpus.load_report("teleradiologi"), convention)
    view = HL7View.open(data)
    assert view is not None and view.encode() == data and view.convention() == convention
    lines = view.lines()
    assert edit_text(data, lambda ls: ls) is None  # no change, no new bytes
    shorter = edit_text(data, lambda ls: ls[:-1])
    assert _text_of(shorter) == "\n".join(lines[:-1])
    longer = edit_text(data, lambda ls: ls + ["Tillägg: ingen & <b>ändring</b>"])
    assert _text_of(longer) == "\n".join(lines + ["Tillägg: ingen & <b>ändring</b>"])
    crlf = Message(MLLP_INBOUND, data.replace(b"\r", b"\r\n"))
    assert HL7View.open(crlf.data).encode() == crlf.data


def test_an_oru_in_8859_1_is_edited_in_8859_1():
    msg = hl7.build_oru(_patient(), hl7.Report(accession="GRTEST000003", text="Ödem i vänster knä."),
                        control_id="C4", charset="8859/1")
    m = Message(MLLP_INBOUND, hl7.encode(msg))
    op = next(o for o in catalogue() if o.name == "negation-word-dropped")
    assert not op.applies(m)
    m2 = Message(MLLP_INBOUND, hl7.encode(msg.replace("Ödem", "Inget ödem")))
    out = op.apply(m2).data
    assert _text_of(out) == "Ödem i vänster knä."


def test_selection_by_name_and_integration():
    assert [o.name for o in select(["unit-mm-to-cm"])] == ["unit-mm-to-cm"]
    assert all(o.integration == "radiology" for o in select(integrations=["radiology"]))
    assert len(select(integrations=["all"])) == len(OPERATORS)
    with pytest.raises(Exception, match="unknown operator"):
        select(["no-such-operator"])
    with pytest.raises(Exception, match="no operators for integration"):
        select(integrations=["nowhere"])


def test_fhir_kind_and_change_example():
    assert fhir_kind(Message(HTTP_RESPONSE, b"", path="/fhir/Binary/RPT-1-text")) == "Binary"
    assert fhir_kind(Message(HTTP_RESPONSE, b"", path="/fhir/DiagnosticReport?identifier=X")) == "DiagnosticReport"
    assert fhir_kind(Message(HTTP_RESPONSE, b"", path="/r4/Patient/Abc")) == "Patient"
    before = Message(MLLP_INBOUND, _oru(TEXT, "obx-per-line"))
    after = next(o for o in catalogue() if o.name == "negation-word-dropped").apply(before)
    diff = change_example(before, after)
    assert "-OBX" in diff and "+OBX" in diff and "Ingen" in diff
    assert "Message(" in repr(before) and "Ingen" not in repr(before)
