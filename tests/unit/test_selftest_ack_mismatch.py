"""The selftest row of defect ``radiology-ack-misaligned``: a scenario broken by ``AckMismatch`` raised
through a step is classified ``ack_mismatch`` (allure writes the exception's module-qualified name
before the message) and so counts as caught; the Allure categories read it the same way."""

from __future__ import annotations

import re

from allure_commons.utils import format_exception

from genrep.results import failure_kinds as fk
from genrep.results.reader import ScenarioResult
from genrep.selftest import evaluate, render
from genrep.sim.defects import DEFECTS
from genrep.transport.mllp import AckMismatch, NoApplicationAck

DEFECT = DEFECTS["radiology-ack-misaligned"]


def _as_allure_writes(exc: BaseException) -> str:
    return format_exception(type(exc), exc)


def _mismatch() -> AckMismatch:
    return AckMismatch("ack_mismatch: no ACK for control id 'GR1' from MLLP endpoint radiology_mllp "
                       "(127.0.0.1:1) within 10.0 s; instead 1 answer(s) to other messages: AA: an ACK "
                       "naming no message (MSA-2 empty)", control_id="GR1")


def _result(rid: str, status: str, message: str) -> ScenarioResult:
    return ScenarioResult(name=f"scenario {rid}", full_name=f"f:{rid}", status=status, message=message,
                          requirements=[rid], history_id=rid)


def test_a_library_exception_names_its_kind_after_its_qualified_class():
    message = _as_allure_writes(_mismatch())
    assert message.startswith("genrep.transport.mllp_answers.AckMismatch: ack_mismatch: ")
    assert fk.kinds_in(message) == ["ack_mismatch"]
    no_ack = _as_allure_writes(NoApplicationAck("no_ack: committed 'GR1' (CA) but no AA", commit=b""))
    assert fk.kinds_in(no_ack) == ["no_ack"]
    # as before: AssertionError openings, and neither a bare capitalised word nor an unnamed error
    assert fk.kinds_in("AssertionError: not_stored: x") == ["not_stored"]
    assert fk.kinds_in("Note: foo: x") == []
    assert fk.kinds_in("genrep.errors.ReadTimeout: no MLLP answer from 127.0.0.1:1 within 10.0 s") == []


def test_selftest_row_is_caught_as_ack_mismatch():
    message = _as_allure_writes(_mismatch()) + "at step 'a registered test patient'"
    results = [_result(rid, "broken", message) for rid in DEFECT.detected_by]
    results.append(_result("RAD-R02", "passed", ""))
    outcome = evaluate(DEFECT, results)
    assert outcome.ok and not outcome.missed and not outcome.wrong_kind
    assert {k for r in outcome.failures for k in r.kinds} == {"ack_mismatch"}
    row = render([outcome]).splitlines()
    assert any(line.startswith("radiology-ack-misaligned") and "RAD-001:caught RAD-R21:caught" in line
               for line in row)
    assert any("classified as: ack_mismatch" in line for line in row)


def test_selftest_row_is_not_caught_by_an_unclassified_error():
    results = [_result(rid, "broken", "genrep.errors.ReadTimeout: no MLLP answer") for rid in DEFECT.detected_by]
    outcome = evaluate(DEFECT, results)
    assert not outcome.ok and outcome.wrong_kind == list(DEFECT.detected_by)


def test_allure_category_regex_reads_the_qualified_class_too():
    message = _as_allure_writes(_mismatch())
    broken_other, other = [c for c in fk.allure_categories() if c["name"] == fk.OTHER_PRODUCT]
    assert "messageRegex" not in other and other["matchedStatuses"] == ["failed"]  # the catch-all: by status
    # a scenario "broken" by an uncaught AckMismatch is a product failure, not a test defect: the
    # catch-all's own kinds match when broken too, in an entry placed before the test-defect catch-all
    assert broken_other["matchedStatuses"] == ["broken"] and re.fullmatch(broken_other["messageRegex"], message)
    names = [c["name"] for c in fk.allure_categories()]
    assert names.index(fk.OTHER_PRODUCT) < names.index(fk.TEST_DEFECTS)
    assert not re.fullmatch(broken_other["messageRegex"], "AttributeError: 'NoneType' object has no attribute 'x'\n")
    (certs,) = [c for c in fk.allure_categories() if c["name"] == fk.CERTIFICATES]
    tls_kind = next(k.name for k in fk.KINDS.values() if k.category == fk.CERTIFICATES and k.source != "derived")
    assert re.fullmatch(certs["messageRegex"], f"genrep.transport.tls_errors.TLSProblem: {tls_kind}: x\n")
    assert not re.fullmatch(certs["messageRegex"], message)
