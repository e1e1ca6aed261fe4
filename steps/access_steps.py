"""Access-rights steps: an action of the matrix performed as a test user of a role, and the verdict.

Thin: ``genrep.integrations.access`` performs and classifies, the contract (``contracts/access.yaml``)
says what each role may do. The scenarios are generated from the matrix (``steps/access_features.py``);
a Then step also checks that its feature still says what the matrix says (a stale feature is a test
defect, never a pass). Failure messages start with their kind (``access_denied_wrongly``,
``access_granted_wrongly``, ``refusal_not_explicit``, ``access_error``, ``no_test_user``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pytest_bdd import given, parsers, then, when

from genrep import hl7
from genrep.config.access import AccessContract, load_access
from genrep.errors import ConfigError
from genrep.integrations.access import AccessClient, AccessResult, judge
from genrep.integrations.radiology import new_accession
from genrep.results.allure import attach_text

from .patient_steps import Subject, given_registered_patient

UNKNOWN_USER = "test-okand-anvandare-99"  # a user id no test environment gives a role (never a real account)
REPORT_TEXT = "Slätröntgen höger knä.\nIngen fraktur. Ingen luxation."
PRESCRIPTION = {"id": "rx-access-1", "medication": "Alvedon 500 mg tablett", "dosage_text": "1x3",
                "patient_instruction": "1 tablett 3 gånger dagligen vid behov", "version": 1, "status": "active"}


@dataclass
class AccessScenario:
    subject: Subject
    client: AccessClient
    contract: AccessContract
    role: str = ""
    action: str = ""
    result: AccessResult | None = None

    def __repr__(self) -> str:
        return "AccessScenario()"


@pytest.fixture(scope="session")
def access_contract():
    return load_access()


@pytest.fixture(scope="session")
def access_client(environment, access_contract):
    client = AccessClient(environment, access_contract)
    yield client
    client.close()


@pytest.fixture
def acc(subject, access_client, access_contract):
    return AccessScenario(subject, access_client, access_contract)


@given("a registered test patient with a radiology report and a prescription in NLL")
@given("en registrerad testpatient med ett röntgensvar och en förskrivning i NLL")
def given_patient_with_data(acc, subject, radiology_client, allowlist, med, request):
    given_registered_patient(subject, radiology_client, allowlist, request)
    med.plant([dict(PRESCRIPTION)])  # a real NLL: the profile's NLL test patient, registered instead
    accession = new_accession()
    ex = radiology_client.send_message(radiology_client.build_report(
        subject.patient, hl7.Report(accession=accession, text=REPORT_TEXT)))
    assert ex.ack and ex.ack.accepted, (
        f"refused: the EHR answered {ex.ack.code if ex.ack else 'nothing'} to the radiology report the access "
        "scenarios read")
    reports, waited = radiology_client.read_back(accession)
    assert reports, f"not_stored: the report the access scenarios read is not readable after {waited:.1f} s"


def _act(acc: AccessScenario, role_text: str, action_text: str) -> None:
    role = acc.contract.role_named(role_text)
    action = acc.contract.action_named(action_text)
    acc.role, acc.action = role.name, action.name
    user = acc.client.user_for(role.name)
    assert user is not None, (
        f"no_test_user: the environment profile names no test user for role {role.name} (test_users.{role.name}); "
        f"roles without one: {', '.join(acc.client.missing_users())}")
    acc.result = acc.client.perform(role.name, action.name, acc.subject.fhir_id)
    attach_text(f"Access: {role.title} -> {action.title}",
                f"user {user}, {action.method} {action.path} on {action.endpoint}\n{acc.result.describe()}")


@when(parsers.parse("a test user with the role {role} tries to {action} for the patient"))
@when(parsers.parse("en testanvändare med rollen {role} försöker {action} för patienten"))
def when_role_acts(acc, role, action):
    _act(acc, role, action)


@when(parsers.parse("a user the EHR does not know tries to {action} for the patient"))
@when(parsers.parse("en användare som journalen inte känner försöker {action} för patienten"))
def when_unknown_user_acts(acc, action):
    act = acc.contract.action_named(action)
    acc.role, acc.action = "", act.name
    acc.result = acc.client.perform_as(UNKNOWN_USER, act.name, acc.subject.fhir_id, role="unknown user")
    attach_text(f"Access: unknown user -> {act.title}", f"user {UNKNOWN_USER}\n{acc.result.describe()}")


def _verdict(acc: AccessScenario, allowed: bool, *, require_right: bool = True) -> None:
    assert acc.result is not None, "no action was performed in an earlier step"
    if acc.role:
        cell = acc.contract.cell(acc.role, acc.action)
        if cell.allowed != allowed:  # the feature no longer says what the matrix says
            raise ConfigError(f"the feature expects {acc.role} -> {acc.action} to be "
                              f"{'allowed' if allowed else 'denied'}, the matrix says {cell.access}: regenerate "
                              "features/access/ (.venv/bin/python -m steps.access_features)",
                              file=acc.contract.file, line=cell.line)
        why = cell.reason
    else:
        why = ""
    message = judge(acc.result, allowed=allowed, right=acc.contract.actions[acc.action].right,
                    require_right=require_right, why=why)
    assert message is None, message


@then("the EHR allows it")
@then("tillåter journalen det")
def then_allowed(acc):
    _verdict(acc, True)


@then("the EHR refuses it explicitly, naming the missing right")
@then("nekar journalen det uttryckligen och anger behörigheten som saknas")
def then_refused_naming_right(acc):
    _verdict(acc, False)


@then("the EHR refuses it explicitly")
@then("nekar journalen det uttryckligen")
def then_refused(acc):
    _verdict(acc, False, require_right=False)
