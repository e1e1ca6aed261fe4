"""The access contract loader (bad input named by file, key and line), the profile's test_users, and the
classifier that turns an EHR answer into allowed / refused explicitly / refused silently / error."""

from __future__ import annotations

import json

import pytest

from genrep.config.access import load_access
from genrep.config.profile import load_profile
from genrep.errors import ConfigError
from genrep.integrations.access import (ALLOWED, ERROR, REFUSED_EXPLICITLY, REFUSED_SILENTLY, AccessResult, classify,
                                        judge)
from genrep.paths import PROJECT_ROOT
from genrep.results import failure_kinds

GOOD = (PROJECT_ROOT / "contracts" / "access.yaml").read_text(encoding="utf-8")


def _load(tmp_path, text: str):
    p = tmp_path / "access.yaml"
    p.write_text(text, encoding="utf-8")
    return load_access(p)


def _error(tmp_path, old: str, new: str) -> ConfigError:
    assert GOOD.count(old) >= 1, old
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, GOOD.replace(old, new, 1))
    return exc.value


# -- the contract ------------------------------------------------------------------------------------

def test_the_contract_loads_complete():
    c = load_access()
    assert len(c.cells) == len(c.roles) * len(c.actions) == 30
    assert c.allowed("physician", "prescribe") and not c.allowed("nurse", "prescribe")
    for role in ("nurse", "medical_secretary", "physiotherapist"):  # the legal requirement
        assert c.allowed(role, "create_referral") and "ACC-003" in c.cell(role, "create_referral").requirements
    assert not c.allowed("medical_secretary", "read_medication_list")
    assert c.role_named("undersköterska").name == c.role_named("assistant nurse").name == "assistant_nurse"
    assert c.action_named("skapa en remiss").name == "create_referral"


def test_a_misspelt_cell_value_names_file_key_and_line(tmp_path):
    err = _error(tmp_path, "    prescribe:             allow\n", "    prescribe:             alow\n")
    assert err.key == "matrix.physician.prescribe" and err.line and err.file.endswith("access.yaml")
    assert "allow or deny" in str(err)


def test_a_missing_cell_is_refused(tmp_path):
    err = _error(tmp_path, "    book_appointment:      allow\n    sign:                  allow\n  nurse:",
                 "    book_appointment:      allow\n  nurse:")
    assert err.key == "matrix.physician" and "sign" in str(err) and err.line


def test_an_unknown_action_in_the_matrix_is_refused(tmp_path):
    err = _error(tmp_path, "    read_radiology_report: allow\n    read_medication_list:  allow\n    prescribe:             allow",
                 "    read_radiology_report: allow\n    read_medication_list:  allow\n    prescribe:             allow\n    fly:                   allow")
    assert err.key == "matrix.physician.fly" and err.line


def test_an_unknown_role_row_is_refused(tmp_path):
    err = _error(tmp_path, "matrix:\n  physician:", "matrix:\n  surgeon:\n    sign: allow\n  physician:")
    assert err.key == "matrix.surgeon" and err.line


def test_a_role_without_a_row_is_refused(tmp_path):
    text = GOOD.split("  physiotherapist:\n    read_radiology_report")[0]
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, text)
    assert "physiotherapist" in str(exc.value) and exc.value.key == "matrix"


def test_unknown_keys_and_bad_values_are_refused(tmp_path):
    assert _error(tmp_path, "acting_user_header: X-Acting-User", "acting_user_header: X Acting").key == "acting_user_header"
    assert _error(tmp_path, "  status: 403", "  status: 200").key == "denial.status"
    assert _error(tmp_path, "    right: referral.create", "    right: Referral").key == "actions.create_referral.right"
    assert _error(tmp_path, "    right: appointment.book", "    right: referral.create").key == "actions.book_appointment.right"
    assert _error(tmp_path, "method: POST, path: ServiceRequest", "method: DELETE, path: ServiceRequest").key \
        == "actions.create_referral.request.method"
    assert _error(tmp_path, "path: ServiceRequest}", "path: /fhir/ServiceRequest}").key == "actions.create_referral.request.path"
    err = _error(tmp_path, "      requirements: [ACC-003]", "      requirements: [acc3]")
    assert err.key == "matrix.nurse.create_referral.requirements"
    assert _error(tmp_path, "title: Access rights as a matrix", "titel: x").key == "titel"
    err = _error(tmp_path, "    prescribe:\n      access: deny", "    prescribe:\n      acces: deny")
    assert err.key == "matrix.nurse.prescribe.acces" and err.line


# -- the profile's test users --------------------------------------------------------------------------

def _profile(tmp_path, users: str):
    p = tmp_path / "p.yaml"
    p.write_text("name: t\nkind: virtual\ntest_users:\n" + users, encoding="utf-8")
    return load_profile(str(p), defects=())


def test_profile_test_users_are_validated(tmp_path):
    assert _profile(tmp_path, "  nurse: test-ssk-01\n").test_users == {"nurse": "test-ssk-01"}
    for bad, key in (("  Nurse: x1\n", "test_users.Nurse"), ("  nurse: ''\n", "test_users.nurse"),
                     ("  nurse: [a]\n", "test_users.nurse"), ("  nurse: has space\n", "test_users.nurse"),
                     ("  nurse: u1\n  physician: u1\n", "test_users.physician")):
        with pytest.raises(ConfigError) as exc:
            _profile(tmp_path, bad)
        assert exc.value.key == key and exc.value.line, bad


def test_the_virtual_profiles_name_a_test_user_for_every_role():
    roles = set(load_access().roles)
    for name in ("virtual", "virtual-tls"):
        assert set(load_profile(name, defects=()).test_users) == roles


# -- the classifier ------------------------------------------------------------------------------------

def _oo(text: str, code: str | None = None) -> bytes:
    issue = {"severity": "error", "code": "forbidden", "diagnostics": text}
    if code:
        issue["details"] = {"coding": [{"system": "urn:genrep:access-right", "code": code}]}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


BUNDLE = json.dumps({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest"}}]}).encode()
EMPTY = json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}).encode()


@pytest.mark.parametrize("status, body, outcome, names", [
    (200, BUNDLE, ALLOWED, False),
    (201, json.dumps({"resourceType": "ServiceRequest", "id": "x"}).encode(), ALLOWED, False),
    (200, json.dumps({"status": "checked", "interactions": []}).encode(), ALLOWED, False),
    (403, _oo("lacks medication-list.read", "medication-list.read"), REFUSED_EXPLICITLY, True),
    (403, _oo("role lacks the right medication-list.read"), REFUSED_EXPLICITLY, True),
    (403, _oo("forbidden"), REFUSED_EXPLICITLY, False),
    (403, b"Forbidden", REFUSED_EXPLICITLY, False),
    (200, EMPTY, REFUSED_SILENTLY, False),
    (200, json.dumps({"resourceType": "Bundle"}).encode(), REFUSED_SILENTLY, False),
    (204, b"", REFUSED_SILENTLY, False),
    (200, b"{}", REFUSED_SILENTLY, False),
    (200, b"<html>ok</html>", ERROR, False),
    (200, _oo("something"), ERROR, False),
    (401, _oo("missing Authorization"), ERROR, False),
    (404, _oo("not supported"), ERROR, False),
    (500, b"boom", ERROR, False),
])
def test_classify(status, body, outcome, names):
    got, detail, named, _has_oo, _entries = classify(status, body, right="medication-list.read")
    assert (got, named) == (outcome, names), detail
    assert detail


def _result(outcome: str, *, names=True, has_oo=True) -> AccessResult:
    return AccessResult("medical_secretary", "read_medication_list", "u1", outcome, 200, "detail", names, has_oo)


@pytest.mark.parametrize("allowed, outcome, names, has_oo, kind", [
    (True, ALLOWED, False, False, None),
    (True, REFUSED_EXPLICITLY, True, True, "access_denied_wrongly"),
    (True, REFUSED_SILENTLY, False, False, "access_denied_wrongly"),
    (True, ERROR, False, False, "access_error"),
    (False, REFUSED_EXPLICITLY, True, True, None),
    (False, REFUSED_EXPLICITLY, False, True, "refusal_not_explicit"),
    (False, REFUSED_EXPLICITLY, False, False, "refusal_not_explicit"),
    (False, REFUSED_SILENTLY, False, False, "refusal_not_explicit"),
    (False, ALLOWED, False, False, "access_granted_wrongly"),
    (False, ERROR, False, False, "access_error"),
])
def test_judge(allowed, outcome, names, has_oo, kind):
    message = judge(_result(outcome, names=names, has_oo=has_oo), allowed=allowed, right="medication-list.read",
                    why="[A] a reason")
    if kind is None:
        assert message is None
    else:
        assert failure_kinds.kinds_in(message) == [kind] and failure_kinds.lookup(kind).source == "prefix"


def test_an_unknown_user_needs_an_operation_outcome_but_no_named_right():
    assert judge(_result(REFUSED_EXPLICITLY, names=False), allowed=False, right="x.y", require_right=False) is None
    assert judge(_result(REFUSED_EXPLICITLY, names=False, has_oo=False), allowed=False, right="x.y",
                 require_right=False).startswith("refusal_not_explicit: ")
