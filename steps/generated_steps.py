"""Generated-text steps: a tester asks for generated report texts from a feature (English and Swedish).

    Given 50 generated report texts with tables and negations
    When each is sent to the EHR as a final report
    Then each is stored exactly as sent in every representation

Thin: the words, the seed (from the scenario's name: the same scenario sends the same texts every
run), sending, reading back every representation and shrinking a failure are
``genrep.explore.batch``'s; the texts go to the scenario's registered test patient (allowlisted).
A failure names the first failing example and the smallest one shrinking reached, its
classification first; every attachment is masked (``attach_text``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pytest_bdd import given, parsers, then, when

from genrep.explore.batch import BatchResult, Request, run_batch, text_request
from genrep.explore.run import describe_environment
from genrep.explore.targets import RadiologyTarget
from genrep.results.allure import attach_text


@dataclass
class GeneratedScenario:
    """Per-scenario state. Its repr shows no text (Allure records step arguments)."""

    request: Request | None = None
    result: BatchResult | None = None

    def __repr__(self) -> str:
        return "GeneratedScenario()"


@pytest.fixture
def generated():
    return GeneratedScenario()


def _scenario_name(request) -> str:
    """The scenario's name as written in the feature file (its seed), else the test's name."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry
    try:
        template = scenario_wrapper_template_registry.get(getattr(request.node, "obj", None))
    except TypeError:
        template = None
    return template.name if template is not None else request.node.name


# ---------------------------------------------------------------------------------- Given ---
@given(parsers.parse("{count:d} generated report texts with {features}"))
@given(parsers.parse("{count:d} genererade svarstexter med {features}"))
@given(parsers.parse("{count:d} genererade utlåtandetexter med {features}"))
def given_generated_texts(generated, request, count, features):
    generated.request = text_request(features, count, _scenario_name(request))


@given(parsers.parse("{count:d} generated report texts"))
@given(parsers.parse("{count:d} genererade svarstexter"))
@given(parsers.parse("{count:d} genererade utlåtandetexter"))
def given_generated_texts_any(generated, request, count):
    generated.request = text_request("", count, _scenario_name(request))


# ----------------------------------------------------------------------------------- When ---
@when("each is sent to the EHR as a final report")
@when("varje text skickas till journalen som ett slutligt svar")
def when_each_sent(generated, radiology_client, subject, environment):
    assert generated.request is not None, "no generated texts were asked for in an earlier step"
    assert subject.patient is not None, "no patient was registered in an earlier step"
    target = RadiologyTarget.for_patient(radiology_client, subject.patient)
    generated.result = run_batch(target, generated.request,
                                 environment=describe_environment(environment, tuple(environment.defects)),
                                 defects=tuple(environment.defects))


# ----------------------------------------------------------------------------------- Then ---
@then("each is stored exactly as sent in every representation")
@then("lagras varje text exakt som den skickades i alla representationer")
def then_each_stored_exactly(generated):
    result = generated.result
    assert result is not None, "no generated texts were sent in an earlier step"
    for name, text, kind in result.attachments():
        attach_text(name, text, kind=kind)
    assert result.ok, result.message()
