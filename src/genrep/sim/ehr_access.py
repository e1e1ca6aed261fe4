"""The virtual EHR's access control: the access matrix (``contracts/access.yaml``) enforced on its API.

Clean behaviour:
- a request naming its acting user (the contract's ``acting_user_header``) is checked: the user's role
  comes from the EHR's own user list (``--user ID=ROLE`` at start-up; the harness starts it with the
  profile's ``test_users``), the action from the route (``GOVERNED``: every route that performs one of
  the matrix's actions, so a radiology report cannot be read through its Binary or Observation either);
- an action the role is denied is answered 403 with an OperationOutcome (issue code ``forbidden``)
  naming the missing right, as text and as ``details.coding`` in the contract's right system;
- a user the EHR has no role for is refused the same way (right ``user.known``), never served;
- a request with no acting user is the harness's own integration account (the other integrations'
  scenarios): not governed by the matrix, as an integration account is not in a real EHR either.
Routes no other module of the EHR serves (creating a referral, booking, signing) get a minimal
stand-in handler here, registered only while no module serves that route: the referral module, when
it serves ``POST /fhir/ServiceRequest``, takes over and the check above still applies.

Defects (``genrep.sim.defects``) each break one of these: ``access-referral-physician-only`` (only
physicians may create referrals), ``access-secretary-reads-medications`` (the medical secretary is
served the medication list) and ``access-denied-as-empty`` (every denial is a 200 with an empty Bundle).
"""

from __future__ import annotations

import datetime
import itertools
import json
import re

from aiohttp import web

from genrep.config.access import AccessContract

FHIR_JSON = "application/fhir+json"
UNKNOWN_USER_RIGHT = "user.known"

#: (method, path pattern, action): every route of the virtual EHR that performs an action of the matrix
GOVERNED: tuple[tuple[str, re.Pattern, str], ...] = (
    ("GET", re.compile(r"/fhir/(?:DiagnosticReport|Binary|Observation)(?:/.*)?"), "read_radiology_report"),
    ("GET", re.compile(r"/fhir/MedicationRequest(?:/.*)?"), "read_medication_list"),
    ("POST", re.compile(r"/ehr/prescribe"), "prescribe"),
    ("POST", re.compile(r"/fhir/ServiceRequest"), "create_referral"),
    ("POST", re.compile(r"/fhir/Appointment"), "book_appointment"),
    ("POST", re.compile(r"/fhir/Provenance"), "sign"),
)
#: the stand-in creates: path -> the resource type its body must be
STAND_INS = {"/fhir/ServiceRequest": "ServiceRequest", "/fhir/Appointment": "Appointment",
             "/fhir/Provenance": "Provenance"}


def _outcome(status: int, code: str, text: str, coding: dict | None = None) -> web.Response:
    issue: dict = {"severity": "error", "code": code, "diagnostics": text}
    if coding is not None:
        issue["details"] = {"coding": [coding], "text": text}
    return web.json_response({"resourceType": "OperationOutcome", "issue": [issue]}, status=status,
                             content_type=FHIR_JSON)


def parse_users(specs: list[str], contract: AccessContract) -> dict[str, str]:
    """``["test-lakare-01=physician", ...]`` -> {user id: role}; unknown roles and bad forms fail (ValueError)."""
    users: dict[str, str] = {}
    for spec in specs:
        user, sep, role = spec.partition("=")
        user, role = user.strip(), role.strip()
        if not sep or not user or not role:
            raise ValueError(f"--user wants ID=ROLE, got {spec!r}")
        if role not in contract.roles:
            raise ValueError(f"--user {spec}: unknown role {role!r} (roles of {contract.file}: "
                             f"{', '.join(contract.roles)})")
        users[user] = role
    return users


class AccessControl:
    def __init__(self, contract: AccessContract, users: dict[str, str], defects: dict):
        self.contract = contract
        self.users = dict(users)
        self.defects = defects
        self.allowed = {(c.role, c.action): c.allowed for c in contract.cells}
        if "access-referral-physician-only" in defects:  # the right a role must have, missing
            for role in contract.roles:
                if ("physician" != role) and (role, "create_referral") in self.allowed:
                    self.allowed[(role, "create_referral")] = False
        if "access-secretary-reads-medications" in defects:  # a role seeing data it must not
            self.allowed[("medical_secretary", "read_medication_list")] = True
        self.created: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self.decisions = {"allowed": 0, "denied": 0, "unknown_user": 0}

    @staticmethod
    def action_for(method: str, path: str) -> str | None:
        for m, pattern, action in GOVERNED:
            if m == method and pattern.fullmatch(path):
                return action
        return None

    def middleware(self):
        header = self.contract.acting_user_header

        @web.middleware
        async def check(request: web.Request, handler):
            user = request.headers.get(header)
            if user is None or not request.path.startswith(("/fhir/", "/ehr/")):
                return await handler(request)  # the integration account: not governed by the matrix
            role = self.users.get(user.strip())
            if role is None:
                self.decisions["unknown_user"] += 1
                return self._deny(f"user {user.strip()!r} is not known to the EHR: no role is assigned to it",
                                  UNKNOWN_USER_RIGHT)
            action = self.action_for(request.method, request.path)
            if action is None or action not in self.contract.actions:
                return await handler(request)  # a route the matrix does not govern
            if self.allowed.get((role, action), False):
                self.decisions["allowed"] += 1
                return await handler(request)
            self.decisions["denied"] += 1
            right = self.contract.actions[action].right
            return self._deny(f"role {role} lacks the right {right} ({self.contract.actions[action].title})", right)

        return check

    def _deny(self, text: str, right: str) -> web.Response:
        if "access-denied-as-empty" in self.defects:  # the defect: a refusal that reads as "nothing there"
            return web.json_response({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []},
                                     content_type=FHIR_JSON)
        return _outcome(self.contract.denial_status, self.contract.denial_issue_code, text,
                        {"system": self.contract.right_system, "code": right, "display": text})

    def routes(self, app: web.Application) -> None:
        """The stand-in creates, for the routes no other module of the EHR serves (call before the
        FHIR catch-all)."""
        served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
        for path in STAND_INS:
            if ("POST", path) not in served:
                app.router.add_post(path, self.create)

    async def create(self, request: web.Request) -> web.Response:
        kind = STAND_INS[request.path]
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("resourceType") != kind:
            return _outcome(400, "invalid", f"POST {request.path} wants a {kind} resource (JSON)")
        rid = f"{kind.lower()}-{next(self._ids)}"
        stored = {**body, "id": rid, "meta": {"versionId": "1",
                                              "lastUpdated": datetime.datetime.now(datetime.timezone.utc).isoformat()}}
        self.created[rid] = stored
        if len(self.created) > 10000:
            self.created.pop(next(iter(self.created)))
        resp = web.json_response(stored, status=201, content_type=FHIR_JSON)
        resp.headers["Location"] = f"{kind}/{rid}/_history/1"
        return resp
