"""The referral contract (``contracts/referrals.yaml``): how a referral is sent through the EHR and
how its delivery is read back, the feedback bound, the failure reasons and the test units.

Validated like every contract (file, key and line of the first problem); re-exported by
``genrep.config.contracts``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import error_at, load_contract, reason_by_word, reason_entries, section
from genrep.errors import ConfigError
from genrep.yamlfile import reject_unknown, require

#: FHIR R4 task-status codes [D]
TASK_STATUSES = ("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                 "on-hold", "failed", "completed", "entered-in-error")
STATUS_CLASSES = ("delivered", "failed", "pending")
ANSWERS = ("accept", "reject")
_UNIT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]{0,99}")


@dataclass(frozen=True)
class ReferralUnit:
    id: str
    name: str
    answer: str = "accept"      # accept | reject
    reject_reason: str = ""


@dataclass(frozen=True)
class ReferralReason:
    code: str
    meaning: str
    sv: str = ""


@dataclass(frozen=True)
class ReferralContract:
    file: str
    send: str
    status: str
    unit_system: str
    reason_system: str
    within_seconds: float
    observe_late_seconds: float
    poll_interval_seconds: float
    statuses: dict[str, str]            # Task.status -> delivered | failed | pending
    reasons: dict[str, ReferralReason]  # code -> reason
    units: tuple[ReferralUnit, ...]
    unknown_unit: ReferralUnit

    def status_class(self, status: str) -> str | None:
        return self.statuses.get(status)

    def unit(self, name_or_id: str) -> ReferralUnit:
        """The test unit by its name (case-insensitive) or id; ``ConfigError`` naming the known ones."""
        want = name_or_id.strip().casefold()
        for u in self.units:
            if want in (u.id.casefold(), u.name.casefold()):
                return u
        if want in (self.unknown_unit.id.casefold(), self.unknown_unit.name.casefold()):
            return self.unknown_unit
        raise ConfigError(f"no unit {name_or_id!r} in the referral contract (known: "
                          f"{', '.join(u.name for u in self.units)})", file=self.file, key="units")

    def reason(self, word: str) -> ReferralReason:
        """A failure reason by its code or its Swedish name."""
        return reason_by_word(self.reasons, word.strip().casefold(),
                              unknown=f"no failure reason {word!r} in the referral contract", file=self.file)


def _unit(item, where: str, path: Path, *, with_answer: bool) -> ReferralUnit:
    if not isinstance(item, dict):
        raise error_at(path, where, None, "each unit must be a mapping (id, name, answer)")
    allowed = {"id", "name", "answer", "reject_reason"} if with_answer else {"id", "name"}
    reject_unknown(item, allowed, where=where)
    uid = require(item, "id", str, where=where)
    if not _UNIT_ID_RE.fullmatch(uid):
        raise error_at(path, f"{where}.id", item.line_of("id"),
                       f"a unit id is 1-100 letters, digits and . : _ - (an HSA-id), got {uid!r}")
    name = require(item, "name", str, where=where).strip()
    if not name:
        raise error_at(path, f"{where}.name", item.line_of("name"), "a unit needs a name")
    if not with_answer:
        return ReferralUnit(uid, name)
    answer = require(item, "answer", str, where=where, default="accept", choices=ANSWERS)
    reason = require(item, "reject_reason", str, where=where, default="").strip()
    if answer == "reject" and not reason:
        raise error_at(path, f"{where}.reject_reason", item.line_of("answer"),
                       "a unit that rejects needs the reject_reason it gives")
    if answer == "accept" and reason:
        raise error_at(path, f"{where}.reject_reason", item.line_of("reject_reason"),
                       "only a unit with answer: reject gives a reject_reason")
    return ReferralUnit(uid, name, answer, reason)


def load_referrals(path: str | Path | None = None) -> ReferralContract:
    path, d = load_contract(path, "referrals.yaml", contract="referrals",
                            keys={"contract", "version", "title", "api", "feedback", "statuses", "reasons", "units",
                                  "unknown_unit"},
                            not_a_mapping="a contract must be a mapping", not_this_contract="not a referral contract")
    api = section(d, "api", {"send", "status", "unit_system", "reason_system"})
    fb = section(d, "feedback", {"within_seconds", "observe_late_seconds", "poll_interval_seconds"})
    within = require(fb, "within_seconds", float, where="feedback")
    if not 0 < within <= 3600:
        raise error_at(path, "feedback.within_seconds", fb.line_of("within_seconds"),
                       f"must be more than 0 and at most 3600 seconds, got {within}")
    late = require(fb, "observe_late_seconds", float, where="feedback", default=within)
    if not 0 <= late <= 3600:
        raise error_at(path, "feedback.observe_late_seconds", fb.line_of("observe_late_seconds"),
                       f"must be 0 to 3600 seconds, got {late}")
    poll = require(fb, "poll_interval_seconds", float, where="feedback", default=0.2)
    if not 0 < poll <= within:
        raise error_at(path, "feedback.poll_interval_seconds", fb.line_of("poll_interval_seconds"),
                       f"must be more than 0 and at most within_seconds ({within}), got {poll}")

    st = section(d, "statuses", set(STATUS_CLASSES))
    statuses: dict[str, str] = {}
    for klass in STATUS_CLASSES:
        values = require(st, klass, list, where="statuses")
        if not values:
            raise error_at(path, f"statuses.{klass}", st.line_of(klass), "name at least one Task.status")
        for value in values:
            if value not in TASK_STATUSES:
                raise error_at(path, f"statuses.{klass}", st.line_of(klass),
                               f"{value!r} is not a FHIR Task.status (known: {', '.join(TASK_STATUSES)})")
            if value in statuses:
                raise error_at(path, f"statuses.{klass}", st.line_of(klass),
                               f"{value!r} is already in statuses.{statuses[value]}: a status is in one class")
            statuses[value] = klass

    rs = require(d, "reasons", dict)
    if not rs:
        raise error_at(path, "reasons", d.line_of("reasons"), "name at least one failure reason")
    reasons: dict[str, ReferralReason] = {}
    for code, where, body in reason_entries(rs, path, ("meaning", "sv")):
        reasons[code] = ReferralReason(code, require(body, "meaning", str, where=where),
                                       require(body, "sv", str, where=where, default=""))
    for needed in ("unit-unknown", "receiver-unavailable", "rejected"):
        if needed not in reasons:
            raise error_at(path, "reasons", d.line_of("reasons"),
                           f"reason {needed!r} is missing (the negative paths need unit-unknown, "
                           "receiver-unavailable and rejected)")

    items = require(d, "units", list)
    units = tuple(_unit(item, f"units[{i}]", path, with_answer=True) for i, item in enumerate(items))
    if not any(u.answer == "accept" for u in units):
        raise error_at(path, "units", d.line_of("units"), "at least one test unit must accept referrals")
    seen: dict[str, str] = {}
    for i, u in enumerate(units):
        for key in (u.id.casefold(), u.name.casefold()):
            if key in seen:
                raise error_at(path, f"units[{i}]", d.line_of("units"),
                               f"{key!r} is named twice (also by {seen[key]})")
            seen[key] = f"units[{i}]"
    unknown = _unit(require(d, "unknown_unit", dict), "unknown_unit", path, with_answer=False)
    if unknown.id.casefold() in seen or unknown.name.casefold() in seen:
        raise error_at(path, "unknown_unit", d.line_of("unknown_unit"),
                       "the unknown unit must not be one of the test units")
    return ReferralContract(
        file=str(path), send=require(api, "send", str, where="api"), status=require(api, "status", str, where="api"),
        unit_system=require(api, "unit_system", str, where="api"),
        reason_system=require(api, "reason_system", str, where="api"),
        within_seconds=within, observe_late_seconds=late, poll_interval_seconds=poll,
        statuses=statuses, reasons=reasons, units=units, unknown_unit=unknown)
