"""The access matrix on the virtual EHR, over real processes: the harness's AccessClient acting as the
profile's test users (contracts/access.yaml, environments/virtual.yaml test_users).

One clean virtual environment per module; each access defect gets its own. Every cell of the matrix is
performed once against the clean EHR: allowed cells succeed with data, denied ones are 403 with an
OperationOutcome naming the right. Each defect breaks exactly the cells it names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from genrep import hl7
from genrep.config.access import load_access
from genrep.config.contracts import load_radiology
from genrep.config.profile import load_profile
from genrep.integrations.access import (ALLOWED, REFUSED_EXPLICITLY, REFUSED_SILENTLY, AccessClient, judge)
from genrep.integrations.nll import NLLAdmin
from genrep.integrations.radiology import RadiologyClient, new_accession
from genrep.sim.process import start_virtual_environment
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.testdata import patient_for

CONTRACT = load_access()


@dataclass
class Env:
    venv: object
    client: AccessClient
    patient_id: str

    def close(self) -> None:
        self.client.close()
        self.venv.stop()


def start_env(defects: tuple[str, ...] = ()) -> Env:
    """A virtual environment with a patient who has a final radiology report and a prescription in NLL."""
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    venv = start_virtual_environment(load_profile("virtual", defects=()), defects=defects)
    try:
        profile = venv.profile
        identity = allowlist.pick(3, kind="personnummer")
        patient = patient_for(identity)
        rad = RadiologyClient(profile, load_radiology(), guard)
        admin = NLLAdmin(profile, guard)
        try:
            assert rad.register(patient).ack.code == "AA"
            patient_id = rad.find_patient(identity.number)["id"]
            accession = new_accession()
            ex = rad.send_message(rad.build_report(patient, hl7.Report(accession=accession, text="Ingen fraktur.")))
            assert ex.ack.code == "AA"
            assert rad.read_back(accession)[0]
            admin.load(identity.number, [{"id": "rx-1", "medication": "Alvedon 500 mg tablett", "dosage_text": "1x3",
                                          "patient_instruction": "1 tablett 3 gånger dagligen", "version": 1,
                                          "status": "active"}])
        finally:
            rad.close()
            admin.close()
        return Env(venv, AccessClient(profile, CONTRACT), patient_id)
    except BaseException:
        venv.stop()
        raise


@pytest.fixture(scope="module")
def env():
    e = start_env()
    try:
        yield e
    finally:
        e.close()


def test_the_virtual_profile_names_a_test_user_for_every_role(env):
    assert env.client.missing_users() == []


@pytest.mark.parametrize("cell", CONTRACT.cells, ids=lambda c: f"{c.role}-{c.action}-{c.access}")
def test_every_cell_of_the_matrix_is_kept(env, cell):
    result = env.client.perform(cell.role, cell.action, env.patient_id)
    right = CONTRACT.actions[cell.action].right
    assert judge(result, allowed=cell.allowed, right=right) is None, result.describe()
    if cell.allowed:
        assert result.outcome == ALLOWED and 200 <= result.status < 300 and result.entries >= 1
    else:
        assert result.outcome == REFUSED_EXPLICITLY and result.status == 403
        assert result.has_outcome and result.names_right


def test_a_denial_is_an_operation_outcome_naming_the_right(env):
    profile = env.venv.profile
    base = profile.endpoint("ehr_fhir").base_url
    r = requests.get(f"{base}/MedicationRequest", params={"patient": env.patient_id},
                     headers={CONTRACT.acting_user_header: profile.test_users["medical_secretary"]}, timeout=(2, 10))
    assert r.status_code == 403
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["code"] == "forbidden"
    assert issue["details"]["coding"][0] == {**issue["details"]["coding"][0], "system": CONTRACT.right_system,
                                             "code": "medication-list.read"}
    assert "medication-list.read" in issue["diagnostics"]


def test_a_report_cannot_be_read_around_the_check_through_its_binary_or_observation(env):
    profile = env.venv.profile
    base = profile.endpoint("ehr_fhir").base_url
    reports = requests.get(f"{base}/DiagnosticReport", params={"patient": env.patient_id}, timeout=(2, 10)).json()
    rid = reports["entry"][0]["resource"]["id"]
    user = {CONTRACT.acting_user_header: profile.test_users["assistant_nurse"]}
    for path in (f"DiagnosticReport/{rid}", f"Binary/{rid}-text", f"Observation/{rid}-text"):
        assert requests.get(f"{base}/{path}", headers=user, timeout=(2, 10)).status_code == 403, path


def test_an_unknown_user_is_refused_explicitly(env):
    result = env.client.perform_as("test-finns-inte-99", "read_radiology_report", env.patient_id, role="unknown")
    assert result.outcome == REFUSED_EXPLICITLY and result.status == 403 and result.has_outcome
    assert judge(result, allowed=False, right="", require_right=False) is None


def test_without_an_acting_user_the_integration_account_is_not_governed(env):
    """The other integrations' scenarios send no acting user: the matrix must not change them."""
    base = env.venv.profile.endpoint("ehr_fhir").base_url
    r = requests.get(f"{base}/MedicationRequest", params={"patient": env.patient_id}, timeout=(2, 10))
    assert r.status_code == 200 and r.json()["entry"]


@pytest.mark.parametrize("defect, broken", [
    ("access-referral-physician-only",
     {("nurse", "create_referral"), ("medical_secretary", "create_referral"), ("physiotherapist", "create_referral")}),
    ("access-secretary-reads-medications", {("medical_secretary", "read_medication_list")}),
    ("access-denied-as-empty", {(c.role, c.action) for c in CONTRACT.cells if not c.allowed}),
])
def test_each_access_defect_breaks_exactly_its_cells(defect, broken):
    e = start_env((defect,))
    try:
        failed = {}
        for cell in CONTRACT.cells:
            result = e.client.perform(cell.role, cell.action, e.patient_id)
            message = judge(result, allowed=cell.allowed, right=CONTRACT.actions[cell.action].right)
            if message:
                failed[(cell.role, cell.action)] = message
        assert set(failed) == broken, failed
        kind = {"access-referral-physician-only": "access_denied_wrongly",
                "access-secretary-reads-medications": "access_granted_wrongly",
                "access-denied-as-empty": "refusal_not_explicit"}[defect]
        assert all(m.startswith(f"{kind}: ") for m in failed.values()), failed
        if defect == "access-denied-as-empty":
            unknown = e.client.perform_as("test-finns-inte-99", "read_radiology_report", e.patient_id)
            assert unknown.outcome == REFUSED_SILENTLY and unknown.status == 200
    finally:
        e.close()
