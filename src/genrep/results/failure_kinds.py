"""Failure kinds: the one registry of how a failure is classified.

A failure message carries its classification as text, so that a human reading the report, the
selftest, the summary and Allure's categories all see the same thing. Two forms exist:

* a leading ``kind: `` on a line of the message (``not_stored: AA received, but ...``), optionally
  after the exception's name (``AssertionError: not_stored: ...``); and
* the text-fidelity findings' ``[kind/severity]`` (``- [truncated/high] cut at 4000 bytes``), whose
  kinds and severities are ``genrep.text.fidelity.KINDS``.

Each kind is registered here once: its name, what it means (one line), the Allure category it is
triaged under and its default severity (the programme's: critical, high, medium, low; the gate
still counts a failure at its requirement's severity). ``kinds_in`` parses a message back,
``failure`` writes one, ``allure_categories`` makes Allure's ``categories.json`` from the registry.
A message with a prefix that is not registered still parses (``lookup`` gives it an "unregistered"
record), and ``tests/unit/test_failure_kinds.py`` finds every prefix the steps and the library emit
and fails on one that is not registered here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrep.text.fidelity import KINDS as FIDELITY_KINDS

# -- Allure categories, in matching order (Allure files a failure under the first that matches) --------


@dataclass(frozen=True)
class Category:
    name: str
    # a product failure is one whether an assertion or an uncaught library error (AckMismatch:
    # "broken") raised it: a category naming its kinds matches both
    statuses: tuple[str, ...] = ("failed", "broken")
    texts: tuple[str, ...] = ()     # message phrases with no kind (transport errors), as regex fragments
    catch_all: bool = False         # matches by status only, after every other category


LOST_NEGATION = "Lost negation (critical: a finding may read as its opposite)"
TRUNCATION = "Text truncation"
LINE_BREAKS = "Line breaks and merged words"
NOT_STORED = "AA is not stored"
FAILOVER = "Failover, failback and fail-safe"
DRIFT = "Contract drift"
NLL_UNAVAILABLE = "NLL unavailable shown wrongly"
IDENTITY = "Patient identity"
CERTIFICATES = "TLS certificates"
PERFORMANCE = "Performance under load"
TEST_DATA = "Test data missing (nothing was verified)"
TIMING_UNCONFIRMED = "Timing not confirmed (the harness too slow to judge: not verified, not a defect)"
REFERRALS = "Referral feedback (a failed referral not told to its sender)"
ERX = "E-prescription signing (wrong or too many certificates, sent but not received)"
PARITY = "Entry points not alike (a node, pool or member configured unlike the others)"
MANUAL = "Manual test failures (user acceptance, usability, peripherals, workstream verification)"
UNREACHABLE = "Environment unreachable"
OTHER_PRODUCT = "Other product defects"
TEST_DEFECTS = "Test defects (harness or data)"

CATEGORIES: tuple[Category, ...] = (
    Category(LOST_NEGATION),
    Category(TRUNCATION),
    Category(LINE_BREAKS),
    Category(NOT_STORED),
    Category(FAILOVER),
    Category(DRIFT),
    Category(NLL_UNAVAILABLE),
    Category(IDENTITY),
    Category(CERTIFICATES),
    Category(PERFORMANCE),
    Category(REFERRALS),
    Category(PARITY),
    Category(ERX),
    Category(MANUAL),
    Category(TEST_DATA, ("failed", "broken")),
    # raised by an assertion ("failed"): without its own category the catch-all would file it
    # under "Other product defects", which it never is
    Category(TIMING_UNCONFIRMED, ("failed", "broken")),
    Category(UNREACHABLE, ("failed", "broken"),
             texts=("refused the connection", "no MLLP answer", "connection refused", "no answer within",
                    "did not complete within", "cannot connect")),
    Category(OTHER_PRODUCT, ("failed",), catch_all=True),
    Category(TEST_DEFECTS, ("broken",), catch_all=True),
)

# -- the kinds ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureKind:
    name: str
    meaning: str
    category: str
    severity: str                   # critical | high | medium | low
    source: str = "prefix"          # prefix ("kind: ") | fidelity ("[kind/severity]") | derived | unregistered


def _k(name: str, category: str, severity: str, meaning: str) -> FailureKind:
    return FailureKind(name, meaning, category, severity)


# what each fidelity kind means; the kinds and their severities are genrep.text.fidelity's
_FIDELITY: dict[str, tuple[str, str]] = {
    "lost_negation": (LOST_NEGATION, "a negation word of the sent text is missing in the stored one"),
    "empty": (TRUNCATION, "the stored text is empty although text was sent"),
    "truncated": (TRUNCATION, "the stored text stops early (cut at a length or byte limit)"),
    "mojibake": (OTHER_PRODUCT, "characters decoded with the wrong character set"),
    "combining_marks_lost": (OTHER_PRODUCT, "accents (combining marks) dropped from letters"),
    "line_breaks_lost": (LINE_BREAKS, "line breaks of the sent text are missing"),
    "merged_words": (LINE_BREAKS, "words run together where a line break or space was lost"),
    "line_breaks_added": (LINE_BREAKS, "line breaks the sent text did not have"),
    "split_words": (LINE_BREAKS, "words broken apart by an added line break or space"),
    "reordered_lines": (OTHER_PRODUCT, "the lines are stored in another order"),
    "missing_lines": (LINE_BREAKS, "whole lines (or blank lines) of the sent text are missing"),
    "extra_lines": (OTHER_PRODUCT, "lines the sent text did not have"),
    "lost_words": (OTHER_PRODUCT, "words of the sent text are missing"),
    "added_words": (OTHER_PRODUCT, "words the sent text did not have"),
    "changed_text": (OTHER_PRODUCT, "the text differs in a way no narrower kind explains"),
    "whitespace_changed": (OTHER_PRODUCT, "spaces changed (not line breaks)"),
    "unicode_normalisation": (OTHER_PRODUCT, "the same characters in another Unicode normal form"),
}

_PREFIXED: tuple[FailureKind, ...] = (
    # radiology: ORU in, AA back, report read back
    _k("not_stored", NOT_STORED, "critical", "acknowledged (AA) but not readable from the EHR afterwards"),
    _k("no_ack", OTHER_PRODUCT, "high", "no HL7 acknowledgement was received"),
    _k("unexpected_ack", OTHER_PRODUCT, "high", "the acknowledgement code is not the one expected"),
    _k("ack_mismatch", OTHER_PRODUCT, "high", "the peer's ACKs are not aligned with the messages: an ACK "
       "quoting another MSH-10 (late, duplicated, unknown) came instead of, or before, the message's own"),
    _k("refused", OTHER_PRODUCT, "high", "a valid message was refused (ACK AE/AR)"),
    _k("accepted_bad_input", OTHER_PRODUCT, "high", "a message that should have been refused was accepted"),
    _k("stored_despite_refusal", OTHER_PRODUCT, "high", "a refused message was stored anyway"),
    _k("duplicated", OTHER_PRODUCT, "high", "one message stored more than once"),
    _k("wrong_version", DRIFT, "high", "the EHR shows another version or status than the one sent"),
    _k("addendum_unlinked", OTHER_PRODUCT, "high", "an addendum is stored but not linked to its report"),
    _k("ack_for_incomplete_frame", OTHER_PRODUCT, "high", "an MLLP frame that never ended was acknowledged"),
    # radiology read-back: every representation the EHR serves (genrep.integrations.radiology)
    _k("representations_disagree", OTHER_PRODUCT, "high",
       "two representations of one report (Binary, inline, HTML, Observations) show different text"),
    _k("representation_unreadable", OTHER_PRODUCT, "high",
       "a representation of the report could not be read or decoded (bad base64, charset, missing Binary)"),
    _k("representation_not_checked", OTHER_PRODUCT, "high",
       "a representation in a type genrep does not compare (PDF ...); a failure when no text one exists"),
    _k("conclusion_not_in_report", OTHER_PRODUCT, "high",
       "the report's conclusion is not part of the sent text (changed or shortened summary)"),
    _k("examination_changed", OTHER_PRODUCT, "high",
       "the examination the EHR shows for a report (its code's text or display) is not the one sent in OBR-4"),
    _k("examination_not_compared", OTHER_PRODUCT, "medium",
       "the report's code shows no examination name (no text, no display): the examination was not compared"),
    # journeys: registration, referral, encounter
    _k("registration_refused", IDENTITY, "high", "the EHR refused a patient registration (ADT)"),
    _k("wrong_birth_date", IDENTITY, "high", "the EHR derives the wrong birth date from the identity"),
    _k("wrong_sex", IDENTITY, "high", "the EHR derives the wrong sex from the identity"),
    _k("no_encounter", OTHER_PRODUCT, "high", "the EHR shows no encounter for the patient"),
    _k("wrong_encounter", OTHER_PRODUCT, "high", "the encounter's status or location is wrong"),
    _k("order_refused", OTHER_PRODUCT, "high", "the EHR refused a referral (ORM)"),
    _k("wrong_status", OTHER_PRODUCT, "medium", "a stored order has the wrong status"),
    _k("referral_open", OTHER_PRODUCT, "medium", "the referral stays open after its final report"),
    _k("report_unlinked", OTHER_PRODUCT, "high", "the report is not linked to its referral"),
    _k("missed_duplication", OTHER_PRODUCT, "high", "a therapeutic duplication was not reported"),
    # medication list (NLL) and its contract
    _k("nll_unavailable", NLL_UNAVAILABLE, "high", "the EHR could not show the list because NLL was unavailable"),
    _k("empty_list_on_failure", NLL_UNAVAILABLE, "critical", "NLL unavailable is shown as an empty list"),
    _k("unclear_outcome", OTHER_PRODUCT, "medium", "the EHR's answer does not say what happened (or why)"),
    _k("missing_prescription", OTHER_PRODUCT, "high", "a prescription NLL holds is not shown"),
    _k("missing_field", DRIFT, "high", "a field NLL holds is not shown (e.g. moved in a new release)"),
    _k("modifier_ignored", OTHER_PRODUCT, "high", "a prescription with an unknown modifierExtension is shown as normal"),
    _k("not_flagged", OTHER_PRODUCT, "high", "a withheld prescription is not flagged to the clinician"),
    _k("blank_instead_of_missing", OTHER_PRODUCT, "medium", "an absent value is shown as an empty one"),
    _k("absent_not_marked", OTHER_PRODUCT, "medium", "an absent value is shown without marking it absent"),
    _k("contract_drift", DRIFT, "high", "NLL serves something the contract does not describe (breaking change)"),
    _k("drift_not_detected", DRIFT, "high", "the contract check missed a breaking change"),
    _k("drift_misreported", DRIFT, "medium", "the contract check reported a change wrongly"),
    _k("no_test_patient", TEST_DATA, "medium", "no allowlisted test patient to run against"),
    _k("no_data", TEST_DATA, "medium", "NLL holds no prescription for the patient: nothing was verified"),
    # Multum: interaction checks, failover
    _k("environment_not_ready", UNREACHABLE, "high", "the checks failed before any fault was injected"),
    _k("environment_unavailable", UNREACHABLE, "high", "the scenario could not reach its endpoint (refused, "
       "timed out, host not found) or was blocked after repeated outages: the environment, not the product; "
       "never counted as a defect, and the run cannot be GO (genrep.preflight)"),
    _k("check_not_performed", FAILOVER, "high", "an interaction check was not performed"),
    _k("false_no_interactions", FAILOVER, "critical", "a failed check shown as 'checked, no interactions'"),
    _k("missed_interaction", OTHER_PRODUCT, "critical", "a known interaction was not reported"),
    _k("wrong_severity", OTHER_PRODUCT, "high", "an interaction reported with the wrong severity"),
    _k("failover_failed", FAILOVER, "critical", "no switch-over in time (or checks failed while switching)"),
    _k("no_failback", FAILOVER, "high", "a recovered server never gets traffic back"),
    _k("early_failback", FAILOVER, "medium", "traffic returns to a server before it has stayed healthy"),
    _k("flapping", FAILOVER, "high", "checks fail after failback"),
    _k("unbalanced", FAILOVER, "medium", "traffic not shared between healthy servers"),
    _k("latency_slo_missed", FAILOVER, "high", "interaction checks slower than their objective under load"),
    _k("checks_failed", OTHER_PRODUCT, "high", "interaction checks failed"),
    _k("unexpected_status", OTHER_PRODUCT, "medium", "a check's status is not the one expected"),
    _k("not_audited", OTHER_PRODUCT, "medium", "a check not performed left no audit log entry"),
    _k("versions_not_flagged", OTHER_PRODUCT, "medium", "servers on different content versions, not said"),
    _k("partial_not_labelled", OTHER_PRODUCT, "high", "a partly failed check is reported as fully checked"),
    _k("partial_unnamed", OTHER_PRODUCT, "medium", "a partial check does not name the part not performed"),
    # referrals to other units (genrep.integrations.referrals, contracts/referrals.yaml)
    _k("referral_silent_failure", REFERRALS, "critical", "a referral that could not be delivered was never told "
       "to its sender: still 'sent' (pending) with no answer when the watch ended (the 2024 defect)"),
    _k("referral_feedback_late", REFERRALS, "high", "the sender was told what became of a referral only after "
       "the contract's bound (feedback.within_seconds)"),
    _k("referral_reason_missing", REFERRALS, "high", "a referral came back failed without the reason (no "
       "statusReason code or text)"),
    _k("referral_wrong_reason", REFERRALS, "medium", "a referral came back failed with another reason than the "
       "one that happened (e.g. receiver-unavailable for an unknown unit)"),
    _k("referral_not_delivered", REFERRALS, "high", "a referral to a known unit that takes it was not delivered"),
    _k("referral_wrongly_delivered", REFERRALS, "critical", "a referral that cannot have arrived (unknown unit, "
       "receiver down, rejected) was shown to the sender as delivered"),
    _k("referral_not_received", REFERRALS, "high", "the EHR says a referral was delivered but the receiving "
       "side has no record of it"),
    _k("referral_api_error", OTHER_PRODUCT, "high", "the EHR's referral API answered something else than the "
       "contract says (HTTP error, no Task to follow the delivery)"),
    # like-for-like entry points (genrep.parity)
    _k("parity_differs", PARITY, "high", "an entry point's configuration fingerprint differs from the first "
       "entry point's (version, integrations reachable, schedule templates, booking types)"),
    _k("parity_misconfigured", PARITY, "high", "an entry point cannot reach an integration, has no schedule "
       "templates or a booking type without resources"),
    _k("parity_smoke_failed", PARITY, "critical", "the smoke journey failed through an entry point"),
    # e-prescription signing (genrep.integrations.erx, contracts/erx.yaml)
    _k("erx_wrong_certificate", ERX, "critical", "an e-prescription signed (or offered to be signed) with another "
       "certificate than the prescriber's valid signing certificate (e.g. the authentication certificate)"),
    _k("erx_too_many_certificates", ERX, "high", "the prescriber is offered more certificates to sign with than "
       "the one valid signing certificate (2024: too many certificates were listed)"),
    _k("erx_not_sent", ERX, "critical", "a prescriber with a valid signing certificate could not send an "
       "e-prescription"),
    _k("erx_not_received", ERX, "critical", "the EHR says an e-prescription was sent, but the receiver has no "
       "record of it (or could not have it)"),
    _k("erx_not_refused", ERX, "critical", "a card with no valid signing certificate was not refused: the EHR "
       "signed and sent anyway"),
    _k("erx_refusal_unclear", ERX, "high", "an e-prescription refused without naming the problem"),
    _k("erx_wrong_reason", ERX, "medium", "an e-prescription refused or failed with another reason than the one "
       "that happened"),
    _k("erx_signature_invalid", ERX, "critical", "the receiver could not verify an e-prescription's signature"),
    _k("erx_answer_late", ERX, "medium", "the EHR answered an e-prescription send after the contract's bound"),
    _k("erx_api_error", OTHER_PRODUCT, "high", "the EHR's e-prescribing API answered something else than the "
       "contract says (HTTP error, no record)"),
    # load (genrep.load.runner) and certificates (genrep.certs)
    _k("sla_missed", PERFORMANCE, "high", "a load SLA threshold was missed (contracts/load.yaml)"),
    _k("no_requests", PERFORMANCE, "high", "an operation made no requests under load: nothing measured"),
    _k("load_run_failed", TEST_DEFECTS, "high", "the load profile did not complete: its requirements are untested"),
    _k("load_inconclusive", TEST_DEFECTS, "high", "the figures measure a saturated generator or host, not the "
       "system: inconclusive (or the run stopped early); its requirements are not verified, never a product defect"),
    _k("timing_unconfirmed", TIMING_UNCONFIRMED, "high", "a time bound the harness saw missed, which the system's "
       "own timestamps say was met: the harness was too slow to judge (a busy host); not verified, never a "
       "product defect, and the run cannot be GO"),
    _k("cert_invalid", CERTIFICATES, "critical", "a certificate is expired, untrusted, for another name or unusable"),
    _k("cert_expiring", CERTIFICATES, "high", "a certificate expires within the agreed days"),
    _k("cert_unreachable", UNREACHABLE, "high", "a TLS endpoint could not be reached to check its certificate"),
    # access rights (genrep.integrations.access, contracts/access.yaml)
    _k("access_denied_wrongly", OTHER_PRODUCT, "high", "an action the access matrix allows the role was refused "
       "(403, or an empty answer where the patient has data)"),
    _k("access_granted_wrongly", OTHER_PRODUCT, "critical", "an action the access matrix denies the role was "
       "performed, or its data shown"),
    _k("refusal_not_explicit", OTHER_PRODUCT, "high", "a denial not answered 403 with an OperationOutcome naming "
       "the missing right (e.g. 200 with an empty Bundle: a refusal that reads as 'nothing there')"),
    _k("access_error", OTHER_PRODUCT, "high", "the EHR's answer to an action performed as a role is neither "
       "success nor a refusal (404, 5xx, malformed): the right could not be verified"),
    _k("no_test_user", TEST_DATA, "medium", "the environment profile names no test user for a role of the "
       "access matrix (test_users): nothing was verified for it"),
    # manual results (genrep.results.manual): a tester recorded a failure
    _k("manual_failed", MANUAL, "high", "a manual test (user acceptance, usability, peripherals, workstream "
       "verification) failed, as its tester recorded with evidence"),
)

#: The reader's name for a failure with no kind and no assertion (an exception escaped).
ERROR = FailureKind("error", "failed with an exception and no classification", TEST_DEFECTS, "high", "derived")


def _registry() -> dict[str, FailureKind]:
    out: dict[str, FailureKind] = {}
    for name, severity in FIDELITY_KINDS.items():  # a kind fidelity adds is registered with it
        category, meaning = _FIDELITY.get(name, (OTHER_PRODUCT, "text fidelity loss (genrep.text.fidelity)"))
        out[name] = FailureKind(name, meaning, category, severity, "fidelity")
    for kind in _PREFIXED:
        if kind.name in out:  # the same loss found by a step directly (missing_lines, lost_words): one kind
            continue
        out[kind.name] = kind
    out[ERROR.name] = ERROR
    return out


KINDS: dict[str, FailureKind] = _registry()

# -- reading and writing the classification -------------------------------------------------------------

#: the exception's name a message may open with: ``AssertionError: `` as pytest writes it, or a
#: module-qualified class as allure writes a library exception raised through a step
#: (``genrep.transport.mllp_answers.AckMismatch: ack_mismatch: ...``)
EXCEPTION_PREFIX = r"(?:[A-Za-z.]*Error: |(?:[A-Za-z_]\w*\.)+[A-Z]\w*: )?"
PREFIX_RE = re.compile(rf"^{EXCEPTION_PREFIX}([a-z][a-z_]+): ", re.M)
TAG_RE = re.compile(r"\[([a-z_]+)/(critical|high|medium|low)\]")


def kinds_in(message: str) -> list[str]:
    """The kinds a failure message names, in order, once each: ``[kind/severity]`` tags first, then
    line prefixes (``kind: ``). Unregistered prefixes are kept (``lookup`` says they are)."""
    found = [m.group(1) for m in TAG_RE.finditer(message)]
    found += [m.group(1) for m in PREFIX_RE.finditer(message)]
    return list(dict.fromkeys(found))


def lookup(name: str) -> FailureKind:
    """The registered kind, or an "unregistered" record (the catch-all category, high)."""
    return KINDS.get(name) or FailureKind(name, "not in genrep.results.failure_kinds", OTHER_PRODUCT, "high",
                                          "unregistered")


def failure(kind: str, message: str) -> str:
    """``kind: message``, the form ``kinds_in`` reads back; ``kind`` must be registered."""
    if kind not in KINDS or KINDS[kind].source == "derived":
        raise KeyError(f"failure kind {kind!r} is not registered in genrep.results.failure_kinds")
    return f"{kind}: {message}"


def _message_regex(names: str, texts: tuple[str, ...] = ()) -> str | None:
    """A whole-message regex for kinds ``names`` ("a|b") in either form (``kind: ...`` after an
    optional exception name, ``[kind/severity]``) or any of ``texts``; None when there is nothing."""
    parts = [rf"(?:.*\n)?{EXCEPTION_PREFIX}(?:{names}): ", rf".*\[(?:{names})/"] if names else []
    parts += [f".*(?:{'|'.join(texts)})"] if texts else []
    return "(?s)(?:" + "|".join(parts) + ").*" if parts else None


def allure_categories() -> list[dict]:
    """Allure's ``categories.json``: one entry per category, matching its kinds in either form
    (Allure matches ``messageRegex`` against the whole message, as Python's ``re.fullmatch`` does)."""
    out = []
    for cat in CATEGORIES:
        entry: dict = {"name": cat.name, "matchedStatuses": list(cat.statuses)}
        names = "|".join(k.name for k in KINDS.values() if k.category == cat.name and k.source != "derived")
        if cat.catch_all and names and "broken" not in cat.statuses:
            # a broken result naming one of this catch-all's kinds is still this category's, not
            # a test defect: one more entry of the same name (Allure groups by name), before the rest
            out.append({"name": cat.name, "matchedStatuses": ["broken"], "messageRegex": _message_regex(names)})
        if not cat.catch_all:
            regex = _message_regex(names, cat.texts)
            if regex is None:
                continue
            entry["messageRegex"] = regex
        out.append(entry)
    return out
