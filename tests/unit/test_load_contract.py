"""The load contract (contracts/load.yaml): the shipped file loads; every mistake names file, key, line."""

from __future__ import annotations

import pytest

from genrep.paths import CONTRACTS_DIR
from genrep.config.contracts import load_catalogue
from genrep.errors import ConfigError
from genrep.load.contract import OPERATIONS, check_requirements, load_load_contract

SHIPPED = (CONTRACTS_DIR / "load.yaml").read_text(encoding="utf-8")


def write(tmp_path, text):
    p = tmp_path / "load.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


def test_shipped_contract_loads_and_matches_the_catalogue():
    c = load_load_contract()
    assert set(c.operations) == set(OPERATIONS)
    assert c.min_users == 4
    check_requirements(c, load_catalogue())
    for op in c.operations.values():
        assert 0 < op.sla.p95_ms <= op.sla.p99_ms and 0 <= op.sla.max_failure_ratio <= 1
        assert op.requirement.startswith("PERF-")
    for u in c.users.values():
        assert 0 <= u.think_min <= u.think_max and u.weight > 0
    cat = load_catalogue()
    perf = {rid for rid, r in cat.items() if r.integration == "performance-load"}
    FAILOVER_REQUIREMENT = "PERF-FAILOVER"  # a planned fault's, judged by the Multum objectives, not an operation SLA
    # the at-peak faults' requirements, each judged by its target's objectives (fault_objectives)
    AT_PEAK = [FAILOVER_REQUIREMENT, "PERF-NLL-OUTAGE", "PERF-NLL-NEVER-EMPTY", "PERF-RADIOLOGY-RESTART"]
    assert c.fault_requirements() == AT_PEAK
    assert perf == ({op.requirement for op in c.operations.values()}
                    | set(AT_PEAK) | {c.stored.requirement, c.soak.requirement}
                    | {j.requirement for j in c.journeys.values()})
    for name in ("failover_under_load", "nll_outage_under_load", "radiology_restart_under_load"):
        peak = c.profiles[name]  # at the go-live peak: the morning's users, think times and default users
        assert peak.like == "golive_morning" and peak.users == c.users_for("golive_morning")
        assert peak.default_users == 6000 and 0 < peak.ramp_s(60) < 60
        assert all(f.requirement and f.at(60) >= peak.ramp_s(60) for f in peak.faults)  # in the steady phase
    assert all(cat[r].test_type == "performance" for r in perf)
    # the go-live morning is people, not request rates: one user per clinician, ~6,000 of them
    assert c.default_users("golive_morning") == 6000
    morning = c.users_for("golive_morning")
    assert set(morning) == set(c.users) and morning["clinician"].think_min >= 10
    assert c.users_for("no_such_profile") == c.users
    assert all(cat[op.requirement].severity == "high" for op in c.operations.values())
    assert cat[FAILOVER_REQUIREMENT].severity == "critical"  # a false "no interactions" is patient harm
    assert cat["PERF-NLL-NEVER-EMPTY"].severity == cat["PERF-RADIOLOGY-RESTART"].severity == "critical"


@pytest.mark.parametrize("old, new, key, words", [
    ("    sla: {p95_ms: 1500, p99_ms: 3000, max_failure_ratio: 0.01}",
     "    sla: {p95_ms: 1500, p99_ms: 1000, max_failure_ratio: 0.01}",
     "operations.read_medications.sla.p99_ms", "at least p95_ms"),
    ("    sla: {p95_ms: 1500, p99_ms: 3000, max_failure_ratio: 0.01}",
     "    sla: {p95_ms: 1500, p99_ms: 3000, max_failure_ratio: 1.5}",
     "operations.read_medications.sla.max_failure_ratio", "at most 1.0"),
    ("    sla: {p95_ms: 1500, p99_ms: 3000, max_failure_ratio: 0.01}",
     "    sla: {p95_ms: fast, p99_ms: 3000, max_failure_ratio: 0.01}",
     "operations.read_medications.sla.p95_ms", "expected float"),
    ("    sla: {p95_ms: 1500, p99_ms: 3000, max_failure_ratio: 0.01}",
     "    sla: {p95_ms: 1500, p99_ms: 3000, max_failure_ratio: 0.01, p90_ms: 900}",
     "operations.read_medications.sla.p90_ms", "unknown key"),
    ("    user: ris\n", "    user: clinician\n", "operations.send_oru.user", "must be one of ris"),
    ("    requirement: PERF-SEND-ORU\n", "    requirement: perf-send-oru\n",
     "operations.send_oru.requirement", "must look like"),
    ("    requirement: PERF-SEND-ORU\n", "    requirement: PERF-READ-REPORT\n",
     "operations.send_oru.requirement", "already the requirement of read_report"),
    ("  send_oru:\n", "  send_hl7:\n", "operations.send_hl7", "unknown operation"),
    ("    weight: 40\n", "    weight: 0\n", "users.clinician.weight", "positive integer"),
    ("    weight: 40\n", "    wieght: 40\n", "users.clinician.wieght", "unknown key"),
    ("  ris:", "  radiologist:", "users.radiologist", "unknown user class"),
    ("think_time_seconds: {min: 1.0, max: 3.0}", "think_time_seconds: {min: 4.0, max: 3.0}",
     "users.clinician.think_time_seconds.max", "at least min"),
    ("think_time_seconds: {min: 1.0, max: 3.0}", "think_time_seconds: {min: -1, max: 3.0}",
     "users.clinician.think_time_seconds.min", "at least 0.0"),
])
def test_mistakes_name_file_key_and_line(tmp_path, old, new, key, words):
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_load_contract(path)
    err = info.value
    assert words in str(err), str(err)
    assert err.key == key and f"key '{key}'" in str(err)
    assert err.line == line_of(SHIPPED, old) and f"{path}:{err.line}" in str(err)


def test_a_missing_operation_is_an_error(tmp_path):
    start = SHIPPED.index("  prescribe:\n")
    path = write(tmp_path, SHIPPED[:start])
    with pytest.raises(ConfigError, match=r"operations missing: prescribe") as info:
        load_load_contract(path)
    assert info.value.key == "operations" and info.value.line


def test_shape_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a load contract"):
        load_load_contract(write(tmp_path, SHIPPED.replace("contract: load", "contract: radiology")))
    with pytest.raises(ConfigError, match="empty"):
        load_load_contract(write(tmp_path, ""))
    with pytest.raises(ConfigError, match="file not found"):
        load_load_contract(tmp_path / "nope.yaml")


def test_requirement_not_in_catalogue(tmp_path):
    c = load_load_contract(write(tmp_path, SHIPPED.replace("PERF-PRESCRIBE", "PERF-PRESCRIBING")))
    with pytest.raises(ConfigError, match="PERF-PRESCRIBING is not in contracts/requirements.yaml"):
        check_requirements(c, load_catalogue())


def _with_profiles(tmp_path, text: str):
    base = (CONTRACTS_DIR / "load.yaml").read_text(encoding="utf-8").split("\nstored:")[0]
    path = tmp_path / "load.yaml"
    path.write_text(base + "\n" + text, encoding="utf-8")
    return path


def test_profile_overrides_merge_into_the_contracts_users(tmp_path):
    c = load_load_contract(_with_profiles(tmp_path, """profiles:
  golive_morning:
    default_users: 300
    users:
      ris: {weight: 1}
      clinician: {think_time_seconds: {min: 20, max: 40}}
"""))
    users = c.users_for("golive_morning")
    assert users["ris"].weight == 1 and users["ris"].think_min == c.users["ris"].think_min
    assert (users["clinician"].weight, users["clinician"].think_min, users["clinician"].think_max) == \
        (c.users["clinician"].weight, 20.0, 40.0)
    assert c.default_users("golive_morning") == 300 and c.stored is None


@pytest.mark.parametrize("text,key", [
    ("profiles:\n  golive_morning:\n    users:\n      robot: {weight: 1}\n", "profiles.golive_morning.users.robot"),
    ("profiles:\n  golive_morning:\n    default_users: 0\n", "profiles.golive_morning.default_users"),
    ("profiles:\n  golive_morning:\n    users:\n      ris: {think_time_seconds: {min: 5, max: 1}}\n",
     "profiles.golive_morning.users.ris.think_time_seconds.max"),
    ("stored: {requirement: PERF-SEND-ORU}\n", "stored.requirement"),
    ("stored: {requirement: PERF-STORED, sample: 0}\n", "stored.sample"),
    ("generator: {max_cpu_percent: 150}\n", "generator.max_cpu_percent"),
])
def test_bad_profile_stored_or_generator_settings_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load_load_contract(_with_profiles(tmp_path, text))
    assert info.value.key == key
