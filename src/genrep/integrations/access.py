"""Access rights: perform one action of the matrix as a test user of a role, and classify the answer.

``AccessClient.perform(role, action, patient_id)`` sends the request the contract names for the
action (``contracts/access.yaml``: endpoint, method, path), as the profile's test user of the role
(``test_users``; the user id goes in the contract's ``acting_user_header``), through the same
transports as every integration (TLS, timeouts, host check, the identity guard). ``classify`` turns
the answer into one of four outcomes:

- ``allowed``: 2xx with content (the data read, the resource created, the check performed);
- ``refused_explicitly``: 403 (the contract's denial status); ``names_right`` says whether an
  OperationOutcome names the missing right (``details.coding`` in the contract's right system, or its text);
- ``refused_silently``: 2xx with nothing in it (an empty Bundle, an empty body): a refusal that reads
  as "nothing there", or an allowed read that shows nothing;
- ``error``: any other answer (401, 404, 5xx, not JSON): the right could not be verified. A transport
  failure (refused, timed out) is raised as ``TransportError``: an outage, not a verdict on a right.

``judge`` compares an outcome with the matrix's cell and returns the failure message, its kind first
(``genrep.results.failure_kinds``): ``access_denied_wrongly``, ``access_granted_wrongly``,
``refusal_not_explicit``, ``access_error``; ``None`` when the answer is what the matrix says.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from genrep.config.access import AccessContract, Action, load_access
from genrep.config.profile import Profile
from genrep.transport.endpoints import http_transport_for

ALLOWED = "allowed"
REFUSED_EXPLICITLY = "refused_explicitly"
REFUSED_SILENTLY = "refused_silently"
ERROR = "error"
OUTCOMES = (ALLOWED, REFUSED_EXPLICITLY, REFUSED_SILENTLY, ERROR)


@dataclass
class AccessResult:
    """What one action as one user got. Its repr shows no patient data (Allure records step arguments)."""

    role: str
    action: str
    user: str
    outcome: str
    status: int | None
    detail: str              # the answer in one line: the OperationOutcome's text, the entries seen ...
    names_right: bool = False  # a refusal's OperationOutcome names the missing right
    has_outcome: bool = False  # a refusal carried an OperationOutcome at all
    entries: int = 0           # a Bundle's entries (data shown), or 1 for a created resource

    def __repr__(self) -> str:
        return f"AccessResult({self.role}, {self.action}, {self.outcome}, HTTP {self.status})"

    def describe(self) -> str:
        return f"HTTP {self.status if self.status is not None else '-'}, {self.outcome}: {self.detail}"


def _issue_texts(oo: dict) -> tuple[list[str], list[str]]:
    """(texts, codes) of an OperationOutcome's issues: diagnostics, details.text and details.coding codes."""
    texts, codes = [], []
    for issue in oo.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        for t in (issue.get("diagnostics"), (issue.get("details") or {}).get("text")):
            if isinstance(t, str) and t.strip():
                texts.append(t.strip())
        for c in (issue.get("details") or {}).get("coding") or []:
            if isinstance(c, dict) and isinstance(c.get("code"), str):
                codes.append(c["code"])
    return texts, codes


def classify(status: int, body: bytes, *, right: str, denial_status: int = 403) -> tuple[str, str, bool, bool, int]:
    """(outcome, detail, names_right, has_outcome, entries) of one answer; see the module docstring."""
    try:
        doc = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        doc = None
    oo = doc if isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome" else None
    texts, codes = _issue_texts(oo) if oo is not None else ([], [])
    said = "; ".join(dict.fromkeys(texts))[:300]
    if status in (403, denial_status):
        names = right in codes or any(right in t for t in texts)
        detail = said or ("no OperationOutcome: " + (body[:120].decode("utf-8", "replace").strip() or "empty body"))
        return REFUSED_EXPLICITLY, detail, names, oo is not None, 0
    if 200 <= status < 300:
        if not body.strip():
            return REFUSED_SILENTLY, "an empty body", False, False, 0
        if not isinstance(doc, (dict, list)):
            return ERROR, f"not JSON: {body[:120].decode('utf-8', 'replace')!r}", False, False, 0
        if oo is not None:
            return ERROR, f"a {status} carrying an OperationOutcome: {said or 'no text'}", False, True, 0
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            entries = [e for e in doc.get("entry") or [] if isinstance(e, dict) and e.get("resource")]
            if not entries:
                return REFUSED_SILENTLY, f"a Bundle with no entries (total {doc.get('total', '-')})", False, False, 0
            kinds = sorted({str(e["resource"].get("resourceType", "?")) for e in entries
                            if isinstance(e["resource"], dict)})
            return ALLOWED, f"a Bundle of {len(entries)} entries ({', '.join(kinds)})", False, False, len(entries)
        if isinstance(doc, dict) and not doc:
            return REFUSED_SILENTLY, "an empty JSON object", False, False, 0
        what = doc.get("resourceType") or (f"status {doc['status']!r}" if "status" in doc else "a JSON object") \
            if isinstance(doc, dict) else f"a list of {len(doc)}"
        return ALLOWED, f"{what}", False, False, 1
    return ERROR, said or body[:160].decode("utf-8", "replace").strip() or "no body", False, oo is not None, 0


def judge(result: AccessResult, *, allowed: bool, right: str, require_right: bool = True, why: str = "") -> str | None:
    """The failure message for ``result`` against the matrix (``allowed``), kind first; None if as expected."""
    who = f"{result.role} ({result.user}) tried to {result.action}"
    because = f" [matrix: {why}]" if why else ""
    if result.outcome == ERROR:
        return f"access_error: {who}: {result.describe()}; the right could not be verified"
    if allowed:
        if result.outcome == ALLOWED:
            return None
        if result.outcome == REFUSED_EXPLICITLY:
            return f"access_denied_wrongly: {who}, which the access matrix allows{because}, and was refused: {result.describe()}"
        return (f"access_denied_wrongly: {who}, which the access matrix allows{because}, and got {result.describe()} "
                "although the patient has that data: a silent refusal")
    if result.outcome == ALLOWED:
        return (f"access_granted_wrongly: {who}, which the access matrix denies{because}, and it was performed or "
                f"shown: {result.describe()}")
    if result.outcome == REFUSED_SILENTLY:
        return (f"refusal_not_explicit: {who}, which the access matrix denies{because}: the answer was "
                f"{result.describe()} instead of 403 with an OperationOutcome naming the right {right}")
    if not result.has_outcome:
        return f"refusal_not_explicit: {who} and was refused without an OperationOutcome: {result.describe()}"
    if require_right and not result.names_right:
        return (f"refusal_not_explicit: {who} and was refused, but the OperationOutcome does not name the missing "
                f"right {right}: {result.describe()}")
    return None


#: [A] the referral the access scenarios create goes to a test unit that accepts referrals
#: (contracts/referrals.yaml units: Röntgen SÄS Borås; HSA-id system as there)
REFERRAL_UNIT = {"system": "urn:oid:1.2.752.29.4.19", "value": "SE2321000131-E000000000101"}
REFERRAL_CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}]}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def request_body(action: Action, patient_id: str, user: str) -> dict | None:
    """The body the action sends (None for a read). Keyed by the action's path, so a contract that
    moves an action to another endpoint keeps its body; an unknown create fails loudly."""
    resource = action.path.split("?", 1)[0].rsplit("/", 1)[-1]
    patient = {"reference": f"Patient/{patient_id}"}
    if action.method == "GET":
        return None
    if resource == "prescribe":
        return {"patient": patient_id, "current": [], "new": "paracetamol"}
    if resource == "ServiceRequest":  # a referral to radiology, the receiving unit by HSA-id
        return {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "category": [REFERRAL_CATEGORY], "code": {"text": "Slätröntgen höger knä"},
                "subject": patient, "authoredOn": _now(), "requester": {"display": user},
                "performer": [{"identifier": dict(REFERRAL_UNIT), "display": "Röntgen SÄS Borås"}],
                "reasonCode": [{"text": "Knäsmärta efter fall"}]}
    if resource == "Appointment":
        start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).replace(
            hour=9, minute=0, second=0, microsecond=0)
        return {"resourceType": "Appointment", "status": "booked", "serviceType": [{"text": "Återbesök"}],
                "start": start.isoformat(), "end": (start + datetime.timedelta(minutes=30)).isoformat(),
                "participant": [{"actor": patient, "status": "accepted"}]}
    if resource == "Provenance":  # a signature on the patient's record entry [A]
        return {"resourceType": "Provenance", "target": [patient], "recorded": _now(),
                "agent": [{"who": {"display": user}}],
                "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1",
                                         "display": "Author's Signature"}], "when": _now(), "who": {"display": user}}]}
    raise ValueError(f"no request body is known for action {action.name} ({action.method} {action.path}): "
                     "add one to genrep.integrations.access.request_body")


class AccessClient:
    """Actions of the access matrix performed as the profile's test users, against one environment."""

    def __init__(self, profile: Profile, contract: AccessContract | None = None):
        self.profile = profile
        self.contract = contract or load_access()
        self._http: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"AccessClient({self.profile.name})"

    def user_for(self, role: str) -> str | None:
        """The profile's test user of ``role`` (None: the profile names none)."""
        return self.profile.test_users.get(role)

    def missing_users(self) -> list[str]:
        """The roles of the matrix the profile names no test user for."""
        return [r for r in self.contract.roles if r not in self.profile.test_users]

    def _transport(self, endpoint: str):
        if endpoint not in self._http:
            self._http[endpoint] = http_transport_for(self.profile, endpoint)
        return self._http[endpoint]

    def perform(self, role: str, action: str, patient_id: str) -> AccessResult:
        user = self.user_for(role)
        if user is None:
            raise LookupError(role)
        return self.perform_as(user, action, patient_id, role=role)

    def perform_as(self, user: str, action: str, patient_id: str, *, role: str = "") -> AccessResult:
        act = self.contract.actions[action]
        path = act.path.replace("{patient}", patient_id)
        body = request_body(act, patient_id, user)
        headers = {self.contract.acting_user_header: user, "Accept": "application/fhir+json, application/json"}
        kwargs = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        # a transport failure (refused, timed out) is raised, not classified: an outage is not a
        # verdict on a right (the suite classifies it environment_unavailable, genrep.preflight)
        resp = self._transport(act.endpoint).request(act.method, path, **kwargs)
        outcome, detail, names, has_oo, entries = classify(resp.status_code, resp.content, right=act.right,
                                                           denial_status=self.contract.denial_status)
        return AccessResult(role or "?", action, user, outcome, resp.status_code, detail, names, has_oo, entries)

    def close(self) -> None:
        for t in self._http.values():
            t.close()
        self._http.clear()
