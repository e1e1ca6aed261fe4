"""Radiology steps (English and Swedish phrasings share one implementation).

Steps only translate Gherkin into library calls (``genrep.integrations.radiology``) and assertions. Failure
messages start with the fidelity classification (``truncated``, ``line_breaks_lost``,
``lost_negation``, ``not_stored`` ...) because ``genrep selftest`` and the Allure categories key
on it, and they say in words what was lost.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from genrep import hl7
from genrep.text import corpus
from genrep.transport.mllp import frame
from genrep.integrations.radiology import Exchange, RadiologyClient, new_accession
from genrep.results.allure import attach_text, hl7_for_display

from .patient_steps import Subject

RAW_PLACEHOLDER = "GENREP-RAW-OBX5-VALUE"


@dataclass
class RadiologyScenario:
    """Per-scenario state. Its repr shows no patient data (Allure records step arguments)."""

    client: RadiologyClient
    subject: Subject
    report: hl7.Report | None = None
    exchange: Exchange | None = None
    expected_text: str | None = None
    versions: list[str] = field(default_factory=list)
    addendum: hl7.Report | None = None
    second: hl7.Report | None = None
    second_ack: hl7.Ack | None = None
    no_answer: bool = False
    order: hl7.Order | None = None

    def __repr__(self) -> str:
        return "RadiologyScenario()"

    @property
    def patient(self) -> hl7.Patient | None:
        return self.subject.patient

    @property
    def sent_text(self) -> str:
        assert self.report is not None, "no report was prepared in an earlier step"
        return self.expected_text if self.expected_text is not None else self.report.text


@pytest.fixture
def rad(radiology_client, subject):
    return RadiologyScenario(radiology_client, subject)


def _attach_exchange(ex: Exchange, label: str = "") -> None:
    text = ex.message if len(ex.message) < 200_000 else ex.message[:200_000] + "\n[... cut for display]"
    attach_text(f"HL7 sent{label}", hl7_for_display(text), kind="hl7")
    if ex.ack_raw is not None:
        attach_text(f"ACK received{label}", hl7_for_display(ex.ack_raw.decode("latin-1")), kind="hl7")


def _send(rad: RadiologyScenario, *, message: str | None = None, payload: bytes | None = None, **build) -> Exchange:
    msg = message or rad.client.build_report(rad.patient, rad.report, **build)
    rad.exchange = rad.client.send_message(msg, payload)
    _attach_exchange(rad.exchange)
    return rad.exchange


# ---------------------------------------------------------------------------------- Given ---
@given("the radiology contract")
@given("radiologikontraktet")
def given_contract(rad, radiology_contract):
    assert rad.client.contract is radiology_contract


def _prepare(rad: RadiologyScenario, text: str, accession: str | None = None) -> None:
    rad.report = hl7.Report(accession=accession or new_accession(), text=text)


@given(parsers.parse('the report "{name}"'))
@given(parsers.parse('svaret "{name}"'))
def given_report(rad, name):
    _prepare(rad, corpus.load_report(name))


@given(parsers.parse('the report "{name}" with a carriage return inside line {line:d}'))
@given(parsers.parse('svaret "{name}" med en vagnretur inne i rad {line:d}'))
def given_report_with_cr(rad, name, line):
    lines = corpus.load_report(name).split("\n")
    words = lines[line - 1].split(" ")
    half = max(1, len(words) // 2)
    lines[line - 1] = " ".join(words[:half]) + "\r" + " ".join(words[half:])
    _prepare(rad, "\n".join(lines))


@given(parsers.parse('the report "{name}" in Unicode NFD form'))
@given(parsers.parse('svaret "{name}" i Unicode NFD-form'))
def given_report_nfd(rad, name):
    text = unicodedata.normalize("NFD", corpus.load_report(name))
    assert text != unicodedata.normalize("NFC", text), "fixture has no composed characters to decompose"
    _prepare(rad, text)


@given(parsers.parse('the report "{name}" with an accession of {length:d} characters'))
@given(parsers.parse('svaret "{name}" med ett accessionsnummer på {length:d} tecken'))
def given_report_long_accession(rad, name, length):
    base = new_accession()
    _prepare(rad, corpus.load_report(name), accession=(base + "X" * length)[:length])


@given("the report text:")
@given("ett svar med texten:")
def given_report_text(rad, docstring):
    _prepare(rad, docstring)


@given(parsers.parse("a generated report of {count:d} lines"))
@given(parsers.parse("ett genererat svar på {count:d} rader"))
def given_generated_lines(rad, count):
    _prepare(rad, corpus.generated_lines(count))


@given(parsers.parse("a generated report of {kib:d} KiB in one paragraph"))
@given(parsers.parse("ett genererat svar på {kib:d} KiB i ett enda stycke"))
def given_generated_paragraph(rad, kib):
    _prepare(rad, corpus.generated_paragraph(kib))


# ----------------------------------------------------------------------------------- When ---
@when("the RIS sends the report")
@when("RIS skickar svaret")
def when_send(rad):
    _send(rad)


@when(parsers.parse('the RIS sends the report using the "{convention}" convention'))
@when(parsers.parse('RIS skickar svaret enligt konventionen "{convention}"'))
def when_send_convention(rad, convention):
    _send(rad, convention=convention)


@when(parsers.parse('the RIS sends the report in the "{charset}" character set'))
@when(parsers.parse('RIS skickar svaret i teckenuppsättningen "{charset}"'))
def when_send_charset(rad, charset):
    _send(rad, charset=charset)


@when("the RIS sends the report with CRLF segment terminators")
@when("RIS skickar svaret med CRLF som segmentavslut")
def when_send_crlf(rad):
    _send(rad, segment_terminator="\r\n")


@when("a faulty RIS sends the report without escaping carriage returns")
@when("ett felaktigt RIS skickar svaret utan att escapa vagnreturer")
def when_send_unescaped_cr(rad):
    _send(rad, escape_cr=False)


@when(parsers.parse('the RIS sends the report encoded as UTF-8 while MSH-18 says "{charset}"'))
@when(parsers.parse('RIS skickar svaret kodat som UTF-8 fast MSH-18 anger "{charset}"'))
def when_send_charset_mismatch(rad, charset):
    msg = rad.client.build_report(rad.patient, rad.report, charset=charset)
    _send(rad, message=msg, payload=msg.encode("utf-8"))


@when("the RIS sends a report whose OBX-5 holds the escaped value:")
@when("RIS skickar ett svar där OBX-5 innehåller det escapade värdet:")
def when_send_raw_obx5(rad, docstring):
    _prepare(rad, RAW_PLACEHOLDER)
    msg = rad.client.build_report(rad.patient, rad.report, convention="ft-br")
    assert msg.count(RAW_PLACEHOLDER) == 1
    _send(rad, message=msg.replace(RAW_PLACEHOLDER, docstring.strip()))


@when(parsers.parse('the RIS sends version "{status}" of the report with the text of "{name}"'))
@when(parsers.parse('RIS skickar version "{status}" av svaret med texten ur "{name}"'))
def when_send_version(rad, status, name):
    if rad.report is None:
        _prepare(rad, "")
    rad.report = hl7.Report(accession=rad.report.accession, text=corpus.load_report(name), status=status)
    rad.versions.append(status)
    ex = _send(rad)
    assert ex.ack and ex.ack.accepted, f"refused: version {status} got {ex.ack.code}: {ex.ack.text}"


@when(parsers.parse('the RIS sends an addendum to the report with the text "{text}"'))
@when(parsers.parse('RIS skickar ett tillägg till svaret med texten "{text}"'))
def when_send_addendum(rad, text):
    rad.addendum = hl7.Report(accession=new_accession(), text=text, parent_accession=rad.report.accession)
    msg = rad.client.build_report(rad.patient, rad.addendum)
    ex = rad.client.send_message(msg)
    _attach_exchange(ex, " (addendum)")
    assert ex.ack and ex.ack.accepted, f"refused: the addendum got {ex.ack.code}: {ex.ack.text}"


@when("the RIS resends the same message after a lost acknowledgement")
@when("RIS skickar samma meddelande igen efter en förlorad kvittens")
def when_resend(rad):
    first = rad.exchange
    assert first is not None
    rad.exchange = rad.client.send_message(first.message, first.payload)
    _attach_exchange(rad.exchange, " (resent)")


@when(parsers.parse("the RIS sends the report split into {parts:d} chunks"))
@when(parsers.parse("RIS skickar svaret uppdelat i {parts:d} delar"))
def when_send_split(rad, parts):
    msg = rad.client.build_report(rad.patient, rad.report)
    data = frame(hl7.encode(msg))
    size = max(1, len(data) // parts)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    rad.exchange = rad.client.send_chunks(msg, chunks)
    _attach_exchange(rad.exchange)


@when("the RIS sends the report and a second report in one write")
@when("RIS skickar svaret och ett andra svar i en och samma skrivning")
def when_send_coalesced(rad):
    msg = rad.client.build_report(rad.patient, rad.report)
    rad.second = hl7.Report(accession=new_accession(), text=corpus.load_report("rtg_handled"))
    msg2 = rad.client.build_report(rad.patient, rad.second)
    data = frame(hl7.encode(msg)) + frame(hl7.encode(msg2))
    rad.exchange = rad.client.send_chunks(msg, [data])
    # the second message's own answer, matched by its MSH-10 (MLLPClient.receive), not the next frame
    rad.second_ack = hl7.parse_ack(rad.client.mllp.receive(control_id=hl7.parse(msg2).control_id))
    _attach_exchange(rad.exchange)


@when("the RIS sends the report without the end-of-frame bytes and closes the connection")
@when("RIS skickar svaret utan ramens slutbytes och stänger anslutningen")
def when_send_no_fs(rad):
    msg = rad.client.build_report(rad.patient, rad.report)
    answer = rad.client.expect_no_answer([b"\x0b" + hl7.encode(msg)], wait=1.0)
    rad.no_answer = answer is None
    attach_text("HL7 sent (no end-of-frame)", hl7_for_display(msg), kind="hl7")


# ----------------------------------------------------------------------------------- Then ---
@then(parsers.parse("the EHR acknowledges with {code}"))
@then(parsers.parse("kvitterar journalen med {code}"))
def then_ack(rad, code):
    ack = rad.exchange.ack if rad.exchange else None
    assert ack is not None, "no_ack: no acknowledgement was received"
    assert ack.code == code, f"unexpected_ack: expected {code}, the EHR answered {ack.code}: {ack.text}"


@then("the EHR does not accept the message")
@then("tar journalen inte emot meddelandet")
def then_refused(rad):
    ack = rad.exchange.ack
    assert ack is not None, "no_ack: no acknowledgement was received"
    assert ack.code in rad.client.contract.refused_codes, (
        f"accepted_bad_input: the EHR answered {ack.code} to a message it should have refused")


def _check_stored(rad: RadiologyScenario, report: hl7.Report, expected: str, what: str = "report"):
    reports, waited = rad.client.read_back(report.accession)
    if not reports:
        raise AssertionError(
            f"not_stored: the EHR acknowledged {what} {report.accession} with AA but it was not readable "
            f"over FHIR within {rad.client.contract.stored_within_seconds} s (AA is not stored)")
    assert len(reports) == 1, f"duplicated: {len(reports)} reports stored for accession {report.accession}"
    stored = reports[0]
    # every representation, the conclusion, each other, and the examination it is for (OBR-4.2)
    check = rad.client.check(expected, stored, examination=report.title)
    for name, text in check.readings:
        attach_text(f"{name} ({what})", text)
    if check.notes:
        attach_text(f"Read back but not compared ({what})", "\n".join(check.notes))
    if not check.ok:
        attach_text(f"Text sent ({what})", expected)
        for name, diff in check.diffs:
            attach_text(f"{name} ({what})", diff, kind="diff")
        raise AssertionError(check.message())
    return stored


@then("the report read back from the EHR matches the sent text")
@then("svaret som läses tillbaka från journalen är identiskt med det skickade")
def then_matches(rad):
    _check_stored(rad, rad.report, rad.sent_text)


@then("the report read back reads:")
@then("har svaret som läses tillbaka texten:")
def then_reads(rad, docstring):
    _check_stored(rad, rad.report, docstring)


@then("the report is readable from the EHR within the agreed time")
@then("kan svaret läsas från journalen inom avtalad tid")
def then_readable_in_time(rad):
    reports, waited = rad.client.read_back(rad.report.accession)
    assert reports, (f"not_stored: AA received, but no report for the accession within "
                     f"{rad.client.contract.stored_within_seconds} s (AA is not stored)")
    attach_text("Read-back latency", f"{waited:.3f} s (allowed {rad.client.contract.stored_within_seconds} s)")


def _assert_nothing_stored(rad: RadiologyScenario, accession: str) -> None:
    limit = rad.client.contract.accession_max_length
    candidates = {accession, accession[:limit]}
    for acc in candidates:
        found = rad.client.find_reports(acc)
        assert not found, (f"stored_despite_refusal: a report exists under accession {acc}"
                           + (" (a shortened accession: mis-linking risk)" if acc != accession else ""))


@then("the EHR stores the report complete or refuses it")
@then("lagrar journalen svaret komplett eller avvisar det")
def then_complete_or_refused(rad):
    ack = rad.exchange.ack
    assert ack is not None, "no_ack: no acknowledgement was received"
    if ack.code in rad.client.contract.accepted_codes:
        _check_stored(rad, rad.report, rad.sent_text)
    else:
        attach_text("Refusal", f"{ack.code}: {ack.text}")
        _assert_nothing_stored(rad, rad.report.accession)


@then("no report is stored under the accession")
@then("finns inget svar lagrat under accessionsnumret")
def then_nothing_stored(rad):
    _assert_nothing_stored(rad, rad.report.accession)


@then("exactly one report is stored under the accession")
@then("finns exakt ett svar lagrat under accessionsnumret")
def then_exactly_one(rad):
    _check_stored(rad, rad.report, rad.sent_text)


@then("every negation word of the sent text is present in the report read back")
@then("finns varje negationsord i den skickade texten kvar i svaret som läses tillbaka")
def then_negations(rad):
    # a faithful read-back has every negation word; a loss is classified lost_negation (critical)
    _check_stored(rad, rad.report, rad.sent_text)


@then("the blank lines between paragraphs are kept")
@then("finns tomraderna mellan styckena kvar")
def then_blank_lines(rad):
    stored = _check_stored(rad, rad.report, rad.sent_text)
    sent_blank = sum(1 for ln in rad.sent_text.strip().split("\n") if not ln.strip())
    got_blank = sum(1 for ln in stored.text.strip().split("\n") if not ln.strip())
    assert got_blank == sent_blank, f"missing_lines: {sent_blank} blank lines sent, {got_blank} read back"


@then(parsers.parse('the EHR shows only the latest version, with status "{status}"'))
@then(parsers.parse('visar journalen bara senaste versionen av svaret, med status "{status}"'))
def then_latest_version(rad, status):
    stored = _check_stored(rad, rad.report, rad.report.text, what=f"version {rad.versions[-1]}")
    assert stored.status == status, (
        f"wrong_version: the EHR shows status {stored.status!r}, expected {status!r} after "
        f"{' -> '.join(rad.versions)}")


@then("the original report read back is unchanged")
@then("är originalsvaret som läses tillbaka oförändrat")
def then_original_unchanged(rad):
    _check_stored(rad, rad.report, rad.report.text, what="original")


@then("the addendum is readable and linked to the original accession")
@then("kan tillägget läsas och är kopplat till originalets accessionsnummer")
def then_addendum_linked(rad):
    stored = _check_stored(rad, rad.addendum, rad.addendum.text, what="addendum")
    assert stored.parent_accession == rad.report.accession, (
        f"addendum_unlinked: the addendum is stored but linked to {stored.parent_accession or 'nothing'}, "
        f"not to {rad.report.accession}")


@then("no acknowledgement is received")
@then("kommer ingen kvittens")
def then_no_ack(rad):
    assert rad.no_answer, "ack_for_incomplete_frame: the EHR acknowledged a frame that never ended"


@then("the second report is stored intact too")
@then("lagras även det andra svaret intakt")
def then_second_intact(rad):
    assert rad.second_ack is not None and rad.second_ack.accepted, (
        f"no_ack: the second message in the same write got {rad.second_ack.code if rad.second_ack else 'no ACK'}")
    _check_stored(rad, rad.second, rad.second.text, what="second report")
