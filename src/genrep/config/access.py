"""The access-rights contract (``contracts/access.yaml``): roles x actions -> allow or deny.

Loaded and validated like every contract: an error names the file, the key and the line. The matrix
must be complete (every role has a cell for every action, no cell names an unknown role or action):
a missing cell would silently leave a right untested. Read by the harness (``genrep.integrations.access``,
the generated features of ``features/access/``) and by the virtual EHR, whose access configuration it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import load_contract, section
from genrep.errors import ConfigError
from genrep.yamlfile import Located, reject_unknown, require

ALLOW, DENY = "allow", "deny"
METHODS = ("GET", "POST", "PUT")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RIGHT = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+")
_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_REQ_ID = re.compile(r"[A-Z][A-Z0-9]*-[A-Z0-9][A-Z0-9-]*")


@dataclass(frozen=True)
class Role:
    name: str
    title: str
    sv: str


@dataclass(frozen=True)
class Action:
    name: str
    title: str
    sv: str
    right: str       # the right the action needs, named by a denial's OperationOutcome
    endpoint: str    # the profile endpoint the request goes to
    method: str
    path: str        # under the endpoint's base URL; "{patient}" is the patient's EHR id


@dataclass(frozen=True)
class Cell:
    role: str
    action: str
    allowed: bool
    reason: str = ""
    line: int | None = None
    requirements: tuple[str, ...] = ()  # requirement ids of this cell beyond the matrix's own


    @property
    def access(self) -> str:
        return ALLOW if self.allowed else DENY


@dataclass(frozen=True)
class AccessContract:
    file: str
    acting_user_header: str
    denial_status: int
    denial_issue_code: str
    right_system: str
    roles: dict[str, Role]
    actions: dict[str, Action]
    cells: tuple[Cell, ...]  # role-major, in the file's order of roles and actions

    def cell(self, role: str, action: str) -> Cell:
        for c in self.cells:
            if c.role == role and c.action == action:
                return c
        raise KeyError(f"no cell for role {role!r} and action {action!r} in {self.file}")

    def allowed(self, role: str, action: str) -> bool:
        return self.cell(role, action).allowed

    def role_named(self, text: str) -> Role:
        """The role whose key, English title or Swedish title is ``text`` (as a feature writes it)."""
        for r in self.roles.values():
            if text.strip().casefold() in (r.name.casefold(), r.title.casefold(), r.sv.casefold()):
                return r
        raise ConfigError(f"unknown role {text!r} (roles: {', '.join(r.title for r in self.roles.values())})",
                          file=self.file, key="roles")

    def action_named(self, text: str) -> Action:
        for a in self.actions.values():
            if text.strip().casefold() in (a.name.casefold(), a.title.casefold(), a.sv.casefold()):
                return a
        raise ConfigError(f"unknown action {text!r} (actions: {', '.join(a.title for a in self.actions.values())})",
                          file=self.file, key="actions")


def _bad(data, key: str, where: str, message: str) -> ConfigError:
    line = data.line_of(key) if isinstance(data, Located) else None
    return ConfigError(message, file=getattr(data, "file", None) or None, key=f"{where}.{key}" if where else key,
                       line=line)


def _names(data: Located, where: str, what: str) -> None:
    for key in data:
        if not _NAME.fullmatch(key):
            raise _bad(data, key, where, f"a {what} name is lower case letters, digits and '_' (e.g. "
                                         "medical_secretary)")


def _text(data, key: str, where: str) -> str:
    value = require(data, key, str, where=where)
    if not value.strip():
        raise _bad(data, key, where, "must not be empty")
    return value.strip()


def _cell(role: str, action: str, value, row: Located) -> Cell:
    where = f"matrix.{role}"
    line = row.line_of(action)
    if isinstance(value, str):
        if value not in (ALLOW, DENY):
            raise _bad(row, action, where, f"must be allow or deny (or {{access: allow|deny, reason: ...}}); "
                                           f"got {value!r}")
        return Cell(role, action, value == ALLOW, "", line)
    if isinstance(value, dict):
        reject_unknown(value, {"access", "reason", "requirements"}, where=f"{where}.{action}")
        access = require(value, "access", str, where=f"{where}.{action}", choices=(ALLOW, DENY))
        reason = require(value, "reason", str, where=f"{where}.{action}", default="").strip()
        reqs = require(value, "requirements", list, where=f"{where}.{action}", default=[])
        for rid in reqs:
            if not isinstance(rid, str) or not _REQ_ID.fullmatch(rid):
                raise _bad(value, "requirements", f"{where}.{action}",
                           f"each must be a requirement id such as ACC-003; got {rid!r}")
        return Cell(role, action, access == ALLOW, reason, line, tuple(reqs))
    raise _bad(row, action, where, f"must be allow or deny (or {{access: allow|deny, reason: ...}}); "
                                   f"got {type(value).__name__}")


def load_access(path: str | Path | None = None) -> AccessContract:
    """Load ``contracts/access.yaml``; every error names the file, the key and the line."""
    path, d = load_contract(path, "access.yaml", contract="access",
                            keys={"contract", "version", "title", "acting_user_header", "denial", "roles", "actions",
                                  "matrix"},
                            not_a_mapping="expected a mapping at the top level",
                            not_this_contract="not an access contract")
    header = require(d, "acting_user_header", str)
    if not _HEADER.fullmatch(header):
        raise _bad(d, "acting_user_header", "", f"must be an HTTP header name; got {header!r}")
    den = section(d, "denial", {"status", "issue_code", "right_system"})
    status = require(den, "status", int, where="denial")
    if status not in (401, 403):
        raise _bad(den, "status", "denial", f"a denial is 403 (or 401); got {status} (a 200 is never a denial)")
    roles_map = require(d, "roles", dict)
    if not roles_map:
        raise _bad(d, "roles", "", "at least one role is needed")
    _names(roles_map, "roles", "role")
    roles: dict[str, Role] = {}
    for name, body in roles_map.items():
        if not isinstance(body, dict):
            raise _bad(roles_map, name, "roles", "expected a mapping {title: ..., sv: ...}")
        reject_unknown(body, {"title", "sv"}, where=f"roles.{name}")
        roles[name] = Role(name, _text(body, "title", f"roles.{name}"), _text(body, "sv", f"roles.{name}"))
    actions_map = require(d, "actions", dict)
    if not actions_map:
        raise _bad(d, "actions", "", "at least one action is needed")
    _names(actions_map, "actions", "action")
    actions: dict[str, Action] = {}
    rights: dict[str, str] = {}
    for name, body in actions_map.items():
        where = f"actions.{name}"
        if not isinstance(body, dict):
            raise _bad(actions_map, name, "actions", "expected a mapping {title, sv, right, request}")
        reject_unknown(body, {"title", "sv", "right", "request"}, where=where)
        right = require(body, "right", str, where=where)
        if not _RIGHT.fullmatch(right):
            raise _bad(body, "right", where, f"a right is dotted lower case words (e.g. referral.create); got {right!r}")
        if right in rights:
            raise _bad(body, "right", where, f"right {right!r} is already the right of action {rights[right]!r}")
        rights[right] = name
        req = require(body, "request", dict, where=where)
        reject_unknown(req, {"endpoint", "method", "path"}, where=f"{where}.request")
        path_ = _text(req, "path", f"{where}.request")
        if path_.startswith(("/", "http:", "https:")):
            raise _bad(req, "path", f"{where}.request", "a path under the endpoint's base URL (no leading '/', no URL)")
        actions[name] = Action(name, _text(body, "title", where), _text(body, "sv", where), right,
                               _text(req, "endpoint", f"{where}.request"),
                               require(req, "method", str, where=f"{where}.request", choices=METHODS), path_)
    for a in actions.values():  # titles are what features write: one meaning each
        clash = [b.name for b in actions.values() if b is not a and {a.title.casefold(), a.sv.casefold()}
                 & {b.title.casefold(), b.sv.casefold()}]
        if clash:
            raise _bad(actions_map, a.name, "actions", f"title shared with action {clash[0]!r}")
    matrix = require(d, "matrix", dict)
    cells: list[Cell] = []
    for role, row in matrix.items():
        if role not in roles:
            raise _bad(matrix, role, "matrix", f"unknown role (roles: {', '.join(roles)})")
        if not isinstance(row, dict):
            raise _bad(matrix, role, "matrix", "expected a mapping of action: allow|deny")
        for action in row:
            if action not in actions:
                raise _bad(row, action, f"matrix.{role}", f"unknown action (actions: {', '.join(actions)})")
        missing = [a for a in actions if a not in row]
        if missing:
            raise _bad(matrix, role, "matrix", f"no cell for action(s) {', '.join(missing)}: every role needs "
                                                "allow or deny for every action (a missing cell is an untested right)")
        cells += [_cell(role, action, row[action], row) for action in actions]
    absent = [r for r in roles if r not in matrix]
    if absent:
        raise _bad(d, "matrix", "", f"no row for role(s) {', '.join(absent)}: every role needs a row")
    return AccessContract(file=str(path), acting_user_header=header, denial_status=status,
                          denial_issue_code=require(den, "issue_code", str, where="denial", default="forbidden"),
                          right_system=require(den, "right_system", str, where="denial",
                                               default="urn:genrep:access-right"),
                          roles=roles, actions=actions, cells=tuple(cells))
