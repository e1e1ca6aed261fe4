"""The failure text a tester reads in the terminal and summary.md (``genrep.results.reader.failure_text``,
issue 17, part 5): the domain message as the step or the library said it, without pytest's internals
(``fixturefunc = <function ...>``, ``kwargs = {...}``, ``request = ...``), then where: the Gherkin step
that failed and the file:line of its step definition. The full traceback stays in the result."""

from __future__ import annotations

import json

from genrep.results.reader import failure_text, read_results

DOMAIN = ("AssertionError: Report text differs: truncated (the same in all 4 representations)\n"
          "- [truncated/high] Text truncated at character 3743 of 19707: the stored text ends with "
          "\"...Skelettet i bröstkorge\" (cut in the middle of \"bröstkorgen\")")

# what --tb=short wrote before steps/conftest.py dropped pytest's own frames
TRACE_WITH_PYTEST = """\
.venv/lib/python3.11/site-packages/_pytest/fixtures.py:1074: in call_fixture_func
    fixture_result = fixturefunc(**kwargs)
                     ^^^^^^^^^^^^^^^^^^^^^
steps/radiology_steps.py:321: in then_complete_or_refused
    _check_stored(rad, rad.report, rad.sent_text)
steps/radiology_steps.py:281: in _check_stored
    raise AssertionError(check.message())
E   AssertionError: Report text differs: truncated
"""

# the long form, locals shown: what a tester must never read
MESSAGE_WITH_LOCALS = """\
fixturefunc = <function then_complete_or_refused at 0x7f3a2c1d5e40>
request = <FixtureRequest for <Function test_a_70_kib_report>>
kwargs = {'rad': <steps.radiology_steps.RadiologyContext object at 0x7f3a2c0e1d50>}
_pytest_bdd_example = {}
step_func_args = {'rad': <steps.radiology_steps.RadiologyContext object at 0x7f3a2c0e1d50>}
""" + DOMAIN

STEPS = [
    {"name": "Given a registered test patient", "status": "passed"},
    {"name": "When the RIS sends a 70 KiB report in one FT value", "status": "passed"},
    {"name": "Then the report is stored complete or refused", "status": "failed"},
]


def test_domain_message_then_step_then_file_line():
    text = failure_text({"message": DOMAIN, "trace": TRACE_WITH_PYTEST}, STEPS)
    assert text == DOMAIN + ("\nat step 'Then the report is stored complete or refused', "
                             "steps/radiology_steps.py:281")


def test_pytest_internals_are_removed_from_the_message():
    text = failure_text({"message": MESSAGE_WITH_LOCALS, "trace": TRACE_WITH_PYTEST}, STEPS)
    for internal in ("fixturefunc", "kwargs", "request =", "_pytest_bdd_example", "step_func_args", "0x7f3a"):
        assert internal not in text
    assert text.startswith(DOMAIN)  # the domain message itself untouched, åäö and all


def test_no_pytest_frame_is_taken_for_the_step():
    """The innermost step-definition frame (steps/...py:line) is named, never _pytest/fixtures.py."""
    text = failure_text({"message": DOMAIN, "trace": TRACE_WITH_PYTEST})
    assert text.endswith("at steps/radiology_steps.py:281")
    assert "_pytest" not in text and "fixtures.py" not in text and "1074" not in text


def test_absolute_paths_are_named_from_the_project_root():
    trace = ("/home/ci/genrep/steps/medication_steps.py:142: in then_shown_as_nll\n"
             "    assert shown == expected, diff\nE   AssertionError: line_breaks_lost")
    text = failure_text({"message": "AssertionError: line_breaks_lost: NLL has 2 lines, the EHR shows 1",
                         "trace": trace})
    assert text.endswith("at steps/medication_steps.py:142") and "/home/ci" not in text


def test_the_innermost_failed_step_is_named():
    steps = [{"name": "Givet en registrerad testpatient", "status": "passed"},
             {"name": "Så journalen visar varje förskrivning så som NLL har den", "status": "failed",
              "steps": [{"name": "read the medication list", "status": "passed"},
                        {"name": "compare with NLL", "status": "broken"}]}]
    text = failure_text({"message": "AssertionError: merged_words", "trace": ""}, steps)
    assert text == "AssertionError: merged_words\nat step 'compare with NLL'"


def test_a_swedish_step_is_named_as_written():
    steps = [{"name": "Givet en registrerad testpatient", "status": "passed"},
             {"name": "Så journalen visar varje förskrivning så som NLL har den", "status": "failed"}]
    text = failure_text({"message": "AssertionError: merged_words", "trace": ""}, steps)
    assert text.endswith("at step 'Så journalen visar varje förskrivning så som NLL har den'")


def test_without_step_or_trace_the_message_alone():
    assert failure_text({"message": DOMAIN}) == DOMAIN
    assert failure_text({"message": DOMAIN, "trace": "<string>:3: in <module>"}, []) == DOMAIN
    assert failure_text({}) == ""


def test_a_message_of_internals_only_still_says_where():
    text = failure_text({"message": "kwargs = {}\nfixturefunc = <function f at 0x1>",
                         "trace": TRACE_WITH_PYTEST}, STEPS)
    assert text == "at step 'Then the report is stored complete or refused', steps/radiology_steps.py:281"


def test_read_results_gives_the_clean_text_and_keeps_the_full_trace(tmp_path):
    result = {"name": "A 70 KiB report in one FT value is stored complete or refused", "status": "failed",
              "statusDetails": {"message": MESSAGE_WITH_LOCALS, "trace": TRACE_WITH_PYTEST},
              "steps": STEPS, "labels": [{"name": "requirement", "value": "RAD-R01"}], "historyId": "h1"}
    (tmp_path / "0001-result.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    [scenario] = read_results(tmp_path)
    assert scenario.message == DOMAIN + ("\nat step 'Then the report is stored complete or refused', "
                                         "steps/radiology_steps.py:281")
    assert scenario.trace == TRACE_WITH_PYTEST  # the full traceback is kept, for classification and Allure
    assert "truncated" in scenario.kinds
