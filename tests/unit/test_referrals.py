"""The referral contract loader (bad input named by key and line) and the outcome classifier."""

from __future__ import annotations

import pytest

from genrep.config.contracts import load_referrals
from genrep.errors import ConfigError
from genrep.integrations.referrals import CLASSES, Observation, classify, expect_delivered, expect_failed
from genrep.paths import CONTRACTS_DIR
from genrep.results.failure_kinds import KINDS, kinds_in

ORIGINAL = (CONTRACTS_DIR / "referrals.yaml").read_text(encoding="utf-8")
C = load_referrals()


def _load(tmp_path, text: str):
    p = tmp_path / "referrals.yaml"
    p.write_text(text, encoding="utf-8")
    return load_referrals(p)


def test_the_contract_loads():
    assert C.within_seconds > 0 and C.status_class("received") == "delivered"
    assert C.status_class("in-progress") == "pending" and C.status_class("rejected") == "failed"
    assert {"unit-unknown", "receiver-unavailable", "rejected"} <= set(C.reasons)
    assert C.unit("röntgen säs borås").id == C.unit(C.units[0].id).id
    assert C.reason("okänd enhet").code == "unit-unknown"
    assert any(u.answer == "reject" and u.reject_reason for u in C.units)


@pytest.mark.parametrize("old,new,key,words", [
    ("  within_seconds: 4 ", "  within_seconds: 0 ", "feedback.within_seconds", "more than 0"),
    ("  within_seconds: 4 ", "  within_second: 4 ", "feedback.within_second", "unknown key"),
    ("  within_seconds: 4 ", "  within_seconds: soon ", "feedback.within_seconds", "expected float"),
    ("  poll_interval_seconds: 0.2", "  poll_interval_seconds: 9", "feedback.poll_interval_seconds", "at most"),
    ("failed: [rejected, failed, cancelled]", "failed: [rejected, failed, received]", "statuses.failed",
     "already in statuses.delivered"),
    ("failed: [rejected, failed, cancelled]", "failed: [rejected, failed, gone]", "statuses.failed",
     "not a FHIR Task.status"),
    ("  unit-unknown:\n", "  unit-gone:\n", "reasons", "'unit-unknown' is missing"),
    ("    answer: reject\n    reject_reason: Remissen uppfyller inte mottagningens remisskriterier\n",
     "    answer: reject\n", "units[3].reject_reason", "needs the reject_reason"),
    ("    answer: reject\n", "    answer: maybe\n", "units[3].answer", "must be one of"),
    ("  id: SE2321000131-E000000009999", "  id: SE2321000131-E000000000101", "unknown_unit", "must not be one"),
    ("  - id: SE2321000131-E000000000102", "  - id: SE2321000131-E000000000101", "units[1]", "named twice"),
    ("  - id: SE2321000131-E000000000102", "  - id: 'bad id with spaces'", "units[1].id", "HSA-id"),
    ("\ncontract: referrals", "\ncontract: multum", "contract", "not a referral contract"),
])
def test_bad_contracts_are_refused_naming_the_key(tmp_path, old, new, key, words):
    assert old in ORIGINAL, old
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, ORIGINAL.replace(old, new, 1))
    assert err.value.key == key and words in str(err.value), str(err.value)
    assert err.value.file and err.value.file.endswith("referrals.yaml")


def test_a_line_is_named_where_the_problem_is(tmp_path):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, ORIGINAL.replace("  within_seconds: 4 ", "  within_seconds: -1 ", 1))
    line = next(i for i, t in enumerate(ORIGINAL.splitlines(), 1) if t.startswith("  within_seconds:"))
    assert err.value.line == line


def test_units_and_reasons_unknown_to_the_contract_are_named():
    with pytest.raises(ConfigError, match="Röntgen SÄS Borås"):
        C.unit("Kardiologen")
    with pytest.raises(ConfigError, match="mottagaren otillgänglig"):
        C.reason("trasig")


# -- the classifier --------------------------------------------------------------------------------
B = C.within_seconds


def obs(at, status, code="", text=""):
    return Observation(at, status, code, text)


@pytest.mark.parametrize("observations,expected", [
    ([obs(0.1, "in-progress"), obs(0.3, "received")], "delivered"),
    ([obs(0.2, "failed", "unit-unknown", "no such unit")], "failed_with_reason"),
    ([obs(0.2, "rejected", "", "outside the criteria")], "failed_with_reason"),
    ([obs(0.2, "failed")], "failed_without_reason"),
    ([obs(0.2, "in-progress"), obs(B + 1, "failed", "unit-unknown", "x")], "late"),
    ([obs(0.2, "in-progress"), obs(B + 2, "in-progress")], "silent"),
    ([obs(0.2, "requested")], "silent"),
    ([], "silent"),
    ([obs(0.2, "sent-ish")], "silent"),  # a status the contract does not know is no answer
])
def test_classify(observations, expected):
    outcome = classify(observations, C)
    assert outcome.classification == expected and expected in CLASSES
    assert outcome.describe().startswith(expected)


def test_the_first_answer_counts_and_its_time_is_kept():
    outcome = classify([obs(0.1, "requested"), obs(0.5, "failed", "rejected", "no"), obs(0.7, "received")], C)
    assert (outcome.classification, outcome.elapsed, outcome.reason_code) == ("failed_with_reason", 0.5, "rejected")


def test_an_immediate_refusal_and_an_api_error():
    assert classify([], C, refused=(422, "not-found", "no such patient")).classification == "failed_with_reason"
    assert classify([], C, refused=(400, "", "")).classification == "failed_without_reason"
    assert classify([], C, error="HTTP 500").classification == "error"


@pytest.mark.parametrize("observations,reason,kind", [
    ([obs(0.2, "failed", "unit-unknown", "x")], "unit-unknown", None),
    ([obs(0.2, "in-progress")], "unit-unknown", "referral_silent_failure"),
    ([obs(B + 1, "failed", "unit-unknown", "x")], "unit-unknown", "referral_feedback_late"),
    ([obs(0.2, "failed")], "unit-unknown", "referral_reason_missing"),
    ([obs(0.2, "failed", "receiver-unavailable", "x")], "unit-unknown", "referral_wrong_reason"),
    ([obs(0.2, "received")], "unit-unknown", "referral_wrongly_delivered"),
])
def test_expect_failed_names_a_registered_kind(observations, reason, kind):
    message = expect_failed(classify(observations, C), reason)
    if kind is None:
        assert message is None
    else:
        assert kinds_in(message)[0] == kind and kind in KINDS


@pytest.mark.parametrize("observations,kind", [
    ([obs(0.2, "received")], None),
    ([obs(0.2, "failed", "receiver-unavailable", "x")], "referral_not_delivered"),
    ([obs(0.2, "in-progress")], "referral_not_delivered"),
    ([obs(B + 1, "received")], "referral_feedback_late"),
])
def test_expect_delivered_names_a_registered_kind(observations, kind):
    message = expect_delivered(classify(observations, C))
    assert (message is None) if kind is None else (kinds_in(message)[0] == kind and kind in KINDS)
    assert expect_delivered(classify([], C, error="HTTP 500")).startswith("referral_api_error: ")


# -- late by the harness's clock only: timing not confirmed, never a pass, never a defect ----------------

def _answer(at: float, server_s, status: str = "received", code: str = "", text: str = ""):
    return [Observation(0.5, "in-progress"), Observation(at, status, code, text, server_s)]


@pytest.mark.parametrize("at,server_s,expected", [
    (C.within_seconds + 0.5, 1.2, "late_unconfirmed"),        # the EHR's own clock: on time
    (C.within_seconds + 0.5, C.within_seconds, "late_unconfirmed"),
    (C.within_seconds + 0.5, C.within_seconds + 0.01, "late"),  # late by both clocks
    (C.within_seconds + 0.5, None, "late"),                   # no timestamps: the harness's clock decides
    (1.0, C.within_seconds + 5, "delivered"),                 # seen in time: the harness is trusted
])
def test_late_is_unconfirmed_only_when_the_ehrs_own_timestamps_put_the_answer_within(at, server_s, expected):
    assert classify(_answer(at, server_s), C).classification == expected


def test_a_read_begun_after_the_bound_that_still_saw_it_pending_proves_it_late():
    """However slow the harness, a read that began after the bound was answered after it: "still
    pending" then is late, whatever the EHR's timestamps say (a lastModified that never moves, a
    Task made late, a sender's view behind the backend, or timestamps written wrongly)."""
    bound = C.within_seconds
    seen = [Observation(0.5, "in-progress", began=0.4), Observation(bound + 0.3, "in-progress", began=bound + 0.1),
            Observation(bound + 0.6, "received", server_s=0.0, began=bound + 0.4)]
    assert classify(seen, C).classification == "late"
    before = [Observation(bound - 0.1, "in-progress", began=bound - 0.2),   # began in time: a slow host's
              Observation(bound + 2.0, "received", server_s=1.0, began=bound - 0.05)]
    assert classify(before, C).classification == "late_unconfirmed"


def test_a_read_of_the_task_carries_the_ehrs_span_and_when_it_began():
    from genrep.integrations.referrals import ReferralClient
    client = ReferralClient.__new__(ReferralClient)
    client.contract = C
    task = {"status": "received", "authoredOn": "2026-12-01T10:00:00.000+00:00",
            "lastModified": "2026-12-01T10:00:01.500+00:00"}
    obs = client._observe(task, 4.4, 4.1)
    assert (obs.at, obs.began, obs.server_s, obs.status) == (4.4, 4.1, 1.5, "received")


def test_unconfirmed_timing_is_timing_unconfirmed_but_a_wrong_answer_stays_a_defect():
    late = C.within_seconds + 0.5
    delivered = classify(_answer(late, 1.0), C)
    assert kinds_in(expect_delivered(delivered)) == ["timing_unconfirmed"]
    assert "1.00 s by the EHR's own Task timestamps" in expect_delivered(delivered)
    told = classify(_answer(late, 1.0, "rejected", "receiver-unavailable", "down"), C)
    assert kinds_in(expect_failed(told, "receiver-unavailable")) == ["timing_unconfirmed"]
    assert kinds_in(expect_failed(told, "unit-unknown")) == ["referral_wrong_reason"]
    assert kinds_in(expect_delivered(told)) == ["referral_not_delivered"]
    bare = classify(_answer(late, 1.0, "rejected"), C)
    assert kinds_in(expect_failed(bare, "receiver-unavailable")) == ["referral_reason_missing"]
    wrongly = classify(_answer(late, 1.0), C)
    assert kinds_in(expect_failed(wrongly, "receiver-unavailable")) == ["referral_wrongly_delivered"]


@pytest.mark.parametrize("task,seconds", [
    ({"authoredOn": "2026-12-01T10:00:00.000+00:00", "lastModified": "2026-12-01T10:00:01.250+00:00"}, 1.25),
    ({"authoredOn": "2026-12-01T10:00:00Z", "lastModified": "2026-12-01T11:00:02+01:00"}, 3.0),  # whole s: +1
    ({"authoredOn": "2026-12-01T10:00:00.5Z", "lastModified": "2026-12-01T10:00:02Z"}, 2.5),
    ({"authoredOn": "2026-12-01T10:00:00Z"}, None),
    ({"authoredOn": "2026-12-01T10:00:00", "lastModified": "2026-12-01T10:00:01"}, None),   # no zone
    ({"authoredOn": "2026-12-01T10:00:05Z", "lastModified": "2026-12-01T10:00:01Z"}, None),  # backwards
    ({"authoredOn": "yesterday", "lastModified": "2026-12-01T10:00:01Z"}, None),
    ({"authoredOn": None, "lastModified": 5}, None),
])
def test_the_ehrs_own_span_is_read_from_the_task(task, seconds):
    from genrep.integrations.referrals import task_seconds
    assert task_seconds(task) == seconds


def test_the_gate_counts_unconfirmed_timing_as_not_verified_never_as_a_defect():
    from genrep.config.contracts import load_catalogue
    from genrep.results.gate import decide
    from genrep.results.reader import ScenarioResult
    catalogue = load_catalogue()
    rid = next(r for r in catalogue if r.startswith("REF-"))
    message = expect_delivered(classify(_answer(C.within_seconds + 0.5, 1.0), C))
    results = [ScenarioResult(name="late by the harness", full_name="x", status="failed", message=message,
                              requirements=[rid], history_id="x")]
    verdict = decide(results, catalogue)
    assert verdict.status == "INCOMPLETE" and not verdict.failures and not verdict.defect_candidates, verdict.reasons
    assert any("timing not confirmed (the harness saw the answer only after" in g.describe() for g in verdict.missing)
    # the same scenario also saying a defect is a defect (only "timing not confirmed" alone is not)
    both = ScenarioResult(name="late and not received", full_name="y", status="failed", requirements=[rid],
                          message=message + "\nreferral_not_received: the receiving unit has nothing", history_id="y")
    assert decide([both], catalogue).status == "NO-GO"
    # Allure files it as not verified, not under "Other product defects" (it is raised as "failed")
    import re
    from genrep.results.failure_kinds import TIMING_UNCONFIRMED, allure_categories
    filed = next(c["name"] for c in allure_categories() if "failed" in c["matchedStatuses"]
                 and ("messageRegex" not in c or re.fullmatch(c["messageRegex"], message, re.S)))
    assert filed == TIMING_UNCONFIRMED
    from genrep.results.i18n import tr
    gap = next(g.describe() for g in verdict.missing if "timing not confirmed" in g.describe())
    assert "tidsgränsen kunde inte bekräftas" in tr("sv", gap)                  # the Swedish scorecard says it too
