"""The e-prescription signing contract (``contracts/erx.yaml``): the EHR's e-prescribing API, what a
signing certificate is (SITHS key usages, the holder's identity attribute), the send bound, the
refusal and failure reasons and the test prescribers with their virtual cards.

Validated like every contract (file, key and line of the first problem); re-exported by
``genrep.config.contracts``. ``Prescriber.expected`` derives, from a card alone, what a correct EHR
does: "sent" (signed with the one valid signing certificate of the prescriber) or the refusal reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import error_at, load_contract, reason_by_word, reason_entries, section
from genrep.errors import ConfigError
from genrep.yamlfile import reject_unknown, require

USAGES = ("authentication", "signing")
VALIDITIES = ("valid", "expired", "not-yet-valid")
REASON_KINDS = ("refusal", "failure")
#: X.509 KeyUsage attribute names (cryptography's) a contract may name
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement")
#: the reasons the negative paths need
NEEDED_REASONS = ("no-signing-certificate", "signing-certificate-expired", "signing-certificate-not-yet-valid",
                  "wrong-key-usage", "receiver-unavailable")
_HSA_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]{0,99}")
_LABEL_RE = re.compile(r"[a-z][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class CardCertificate:
    label: str
    usage: str        # authentication | signing
    validity: str     # valid | expired | not-yet-valid
    holder: str       # the HSA-id the certificate is issued to


@dataclass(frozen=True)
class Prescriber:
    id: str
    name: str
    card: tuple[CardCertificate, ...]

    def own(self, usage: str) -> list[CardCertificate]:
        return [c for c in self.card if c.holder == self.id and c.usage == usage]

    @property
    def expected(self) -> str:
        """What a correct EHR does for this card: "sent", or the refusal reason code."""
        signing = self.own("signing")
        if any(c.validity == "valid" for c in signing):
            return "sent"
        if any(c.validity == "expired" for c in signing):
            return "signing-certificate-expired"
        if signing:
            return "signing-certificate-not-yet-valid"
        return "no-signing-certificate"

    @property
    def signing_label(self) -> str | None:
        """The label of the certificate a correct EHR signs with (None: it must refuse)."""
        return next((c.label for c in self.own("signing") if c.validity == "valid"), None)


@dataclass(frozen=True)
class ErxReason:
    code: str
    kind: str         # refusal | failure
    meaning: str
    sv: str = ""


@dataclass(frozen=True)
class ErxContract:
    file: str
    send: str
    read: str
    offered: str
    reason_system: str
    signing_key_usage: str
    authentication_key_usage: str
    identity_attribute: str
    offered_at_most: int
    within_seconds: float
    reasons: dict[str, ErxReason]
    prescribers: tuple[Prescriber, ...]

    def prescriber(self, name_or_id: str) -> Prescriber:
        """A test prescriber by name (case-insensitive) or HSA-id; ``ConfigError`` naming the known ones."""
        want = name_or_id.strip().strip('"').casefold()
        for p in self.prescribers:
            if want in (p.id.casefold(), p.name.casefold()):
                return p
        raise ConfigError(f"no prescriber {name_or_id!r} in the e-prescription contract (known: "
                          f"{', '.join(p.name for p in self.prescribers)})", file=self.file, key="prescribers")

    def reason(self, word: str) -> ErxReason:
        """A reason by its code or its Swedish name."""
        return reason_by_word(self.reasons, word.strip().strip('"').casefold(),
                              unknown=f"no reason {word!r} in the e-prescription contract", file=self.file)


def _card(items, where: str, path: Path, owner: str, line: int | None) -> tuple[CardCertificate, ...]:
    if not isinstance(items, list) or not items:
        raise error_at(path, where, line, "a card lists at least one certificate")
    out: list[CardCertificate] = []
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise error_at(path, w, line, "each certificate is a mapping (label, usage, validity, holder)")
        reject_unknown(item, {"label", "usage", "validity", "holder"}, where=w)
        label = require(item, "label", str, where=w)
        if not _LABEL_RE.fullmatch(label):
            raise error_at(path, f"{w}.label", line, f"a label is lower-case letters, digits and '-', got {label!r}")
        if any(c.label == label for c in out):
            raise error_at(path, f"{w}.label", line, f"label {label!r} is on this card twice")
        holder = require(item, "holder", str, where=w, default=owner)
        if not _HSA_RE.fullmatch(holder):
            raise error_at(path, f"{w}.holder", line, f"a holder is an HSA-id, got {holder!r}")
        out.append(CardCertificate(label, require(item, "usage", str, where=w, choices=USAGES),
                                   require(item, "validity", str, where=w, choices=VALIDITIES), holder))
    return tuple(out)


def load_erx(path: str | Path | None = None) -> ErxContract:
    path, d = load_contract(path, "erx.yaml", contract="erx",
                            keys={"contract", "version", "title", "api", "signing", "send", "reasons", "prescribers"},
                            not_a_mapping="a contract must be a mapping",
                            not_this_contract="not an e-prescription contract")
    api = section(d, "api", {"send", "read", "offered", "reason_system"})
    sig = section(d, "signing", {"signing_key_usage", "authentication_key_usage", "identity_attribute",
                                 "offered_at_most"})
    signing_ku = require(sig, "signing_key_usage", str, where="signing", choices=KEY_USAGES)
    auth_ku = require(sig, "authentication_key_usage", str, where="signing", choices=KEY_USAGES)
    if signing_ku == auth_ku:
        raise error_at(path, "signing.signing_key_usage", sig.line_of("signing_key_usage"),
                       "the signing and the authentication key usage must differ (that is how they are told apart)")
    identity = require(sig, "identity_attribute", str, where="signing", choices=("serialNumber", "commonName"))
    at_most = require(sig, "offered_at_most", int, where="signing", default=1)
    if not 1 <= at_most <= 100:
        raise error_at(path, "signing.offered_at_most", sig.line_of("offered_at_most"),
                       f"must be 1 to 100, got {at_most}")
    send = section(d, "send", {"within_seconds"})
    within = require(send, "within_seconds", float, where="send")
    if not 0 < within <= 600:
        raise error_at(path, "send.within_seconds", send.line_of("within_seconds"),
                       f"must be more than 0 and at most 600 seconds, got {within}")

    rs = require(d, "reasons", dict)
    reasons: dict[str, ErxReason] = {}
    for code, where, body in reason_entries(rs, path, ("kind", "meaning", "sv")):
        reasons[code] = ErxReason(code, require(body, "kind", str, where=where, choices=REASON_KINDS),
                                  require(body, "meaning", str, where=where),
                                  require(body, "sv", str, where=where, default=""))
    for needed in NEEDED_REASONS:
        if needed not in reasons:
            raise error_at(path, "reasons", d.line_of("reasons"),
                           f"reason {needed!r} is missing (the negative paths need {', '.join(NEEDED_REASONS)})")
    for r in reasons.values():
        if r.code.startswith("signing-certificate") or r.code == "no-signing-certificate":
            if r.kind != "refusal":
                raise error_at(path, f"reasons.{r.code}.kind", rs.line_of(r.code),
                               "a missing or invalid signing certificate is a refusal (nothing may be sent)")

    items = require(d, "prescribers", list)
    if not items:
        raise error_at(path, "prescribers", d.line_of("prescribers"), "name at least one test prescriber")
    prescribers: list[Prescriber] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"prescribers[{i}]"
        if not isinstance(item, dict):
            raise error_at(path, where, d.line_of("prescribers"), "each prescriber is a mapping (id, name, card)")
        reject_unknown(item, {"id", "name", "card"}, where=where)
        pid = require(item, "id", str, where=where)
        if not _HSA_RE.fullmatch(pid):
            raise error_at(path, f"{where}.id", item.line_of("id"), f"a prescriber id is an HSA-id, got {pid!r}")
        name = require(item, "name", str, where=where).strip()
        if not name:
            raise error_at(path, f"{where}.name", item.line_of("name"), "a prescriber needs a name")
        for key in (pid.casefold(), name.casefold()):
            if key in seen:
                raise error_at(path, where, item.line_of("id"), f"{key!r} is named twice (also by {seen[key]})")
            seen[key] = where
        card = _card(item.get("card"), f"{where}.card", path, pid, item.line_of("card"))
        valid_own = [c for c in card if c.holder == pid and c.usage == "signing" and c.validity == "valid"]
        if len(valid_own) > 1:
            raise error_at(path, f"{where}.card", item.line_of("card"),
                           "at most one valid signing certificate of the prescriber per card (which one to sign "
                           "with must be unambiguous)")
        prescribers.append(Prescriber(pid, name, card))
    if not any(p.expected == "sent" for p in prescribers):
        raise error_at(path, "prescribers", d.line_of("prescribers"),
                       "at least one prescriber must have a valid signing certificate (the happy path)")
    return ErxContract(
        file=str(path), send=require(api, "send", str, where="api"), read=require(api, "read", str, where="api"),
        offered=require(api, "offered", str, where="api"),
        reason_system=require(api, "reason_system", str, where="api"),
        signing_key_usage=signing_ku, authentication_key_usage=auth_ku, identity_attribute=identity,
        offered_at_most=at_most, within_seconds=within, reasons=reasons, prescribers=tuple(prescribers))
