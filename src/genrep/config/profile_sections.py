"""The optional sections of a profile besides its endpoints: ``virtual:`` (how the virtual environment
starts its simulators), ``certificates:``, ``test_users:`` (one test user per access role) and
``entry_points:`` (the ways into a system that are compared like for like).

Its own module so that ``genrep.config.profile`` holds the profile itself, how a profile is found and
loaded, and the refusals every profile gets first; re-exported by ``genrep.config.profile``. Errors
name file, key and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from genrep.config.endpoints import Endpoint, env_name, file_path, parse_endpoint
from genrep.errors import ConfigError
from genrep.yamlfile import reject_unknown, require

DEFAULT_MIN_DAYS_VALID = 30


@dataclass(frozen=True)
class VirtualOptions:
    """The ``virtual:`` section of a virtual profile: how the simulators are started."""

    tls: bool = False                 # every EHR and NLL listener speaks TLS (throw-away CA)
    mutual_tls: bool = False          # ... and requires a client certificate from that CA
    client_key_password_env: str = ""  # the harness's generated client key is encrypted with this
    require_token_env: str = ""       # the EHR's FHIR API requires the bearer token in this env var
    credentials_env: str = ""         # where the harness reads the token it sends (default: the same)
    credentials_file: str = ""        # or a file holding it


@dataclass(frozen=True)
class EntryPoint:
    """One way into a system (``entry_points:``): an application node, a desktop pool, a load-balancer
    member. ``endpoints`` replace the profile's endpoints of the same name when the journey goes
    through it (``Profile.through``); a virtual profile's are filled by the virtual environment."""

    name: str
    kind: str = "node"  # ENTRY_POINT_KINDS
    description: str = ""
    endpoints: dict[str, Endpoint] = field(default_factory=dict)


_VIRTUAL_KEYS = {"tls", "mutual_tls", "client_key_password_env", "require_token_env", "credentials_env",
                 "credentials_file"}


def parse_virtual(data, kind: str) -> VirtualOptions:
    v = require(data, "virtual", dict, default=None)
    if v is None:
        return VirtualOptions()
    if kind != "virtual":
        raise ConfigError("the virtual section applies to kind: virtual only; an external profile "
                          "configures TLS per endpoint", file=data.file, key="virtual", line=data.line_of("virtual"))
    reject_unknown(v, _VIRTUAL_KEYS, where="virtual")
    opts = VirtualOptions(
        tls=require(v, "tls", bool, where="virtual", default=False),
        mutual_tls=require(v, "mutual_tls", bool, where="virtual", default=False),
        client_key_password_env=env_name(v, "client_key_password_env", "virtual"),
        require_token_env=env_name(v, "require_token_env", "virtual"),
        credentials_env=env_name(v, "credentials_env", "virtual"),
        credentials_file=file_path(v, "credentials_file", "virtual"))
    if opts.mutual_tls and not opts.tls:
        raise ConfigError("mutual_tls needs tls: true", file=v.file, key="virtual.mutual_tls",
                          line=v.line_of("mutual_tls"))
    if opts.client_key_password_env and not opts.mutual_tls:
        raise ConfigError("a client key password needs mutual_tls: true (there is no client key otherwise)",
                          file=v.file, key="virtual.client_key_password_env", line=v.line_of("client_key_password_env"))
    if opts.credentials_env and opts.credentials_file:
        raise ConfigError("give the credentials either from an environment variable or from a file, not both",
                          file=v.file, key="virtual.credentials_file", line=v.line_of("credentials_file"))
    if opts.require_token_env and not (opts.credentials_env or opts.credentials_file):
        opts = replace(opts, credentials_env=opts.require_token_env)  # the harness sends what the EHR wants
    return opts


def parse_certificates(data) -> int:
    c = require(data, "certificates", dict, default=None)
    if c is None:
        return DEFAULT_MIN_DAYS_VALID
    reject_unknown(c, {"min_days_valid"}, where="certificates")
    days = require(c, "min_days_valid", int, where="certificates", default=DEFAULT_MIN_DAYS_VALID)
    if not 0 <= days <= 3650:
        raise ConfigError(f"must be 0..3650 days, got {days}", file=c.file, key="certificates.min_days_valid",
                          line=c.line_of("min_days_valid"))
    return days


_ROLE = re.compile(r"[a-z][a-z0-9_]*")
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


def parse_test_users(data, file: str) -> dict[str, str]:
    """``test_users:`` role -> user id of a test user with that role (contracts/access.yaml names the
    roles; the access client checks every role has one). Ids are test accounts the profile names,
    never looked up in a real directory; one id serves one role (a shared id would test one role twice)."""
    tu = require(data, "test_users", dict, default={})
    out: dict[str, str] = {}
    for role, user in tu.items():
        line = tu.line_of(role)
        if not _ROLE.fullmatch(role):
            raise ConfigError("a role is lower case letters, digits and '_' as contracts/access.yaml names it "
                              "(e.g. medical_secretary)", file=file, key=f"test_users.{role}", line=line)
        if not isinstance(user, str) or not _USER_ID.fullmatch(user):
            raise ConfigError(f"expected a test user id (letters, digits, . _ @ -, at most 128), got {user!r}",
                              file=file, key=f"test_users.{role}", line=line)
        other = next((r for r, u in out.items() if u == user), None)
        if other is not None:
            raise ConfigError(f"user {user!r} is already the test user of role {other!r}: one user per role",
                              file=file, key=f"test_users.{role}", line=line)
        out[role] = user
    return out


ENTRY_POINT_KINDS = ("node", "desktop_pool", "lb_member")
_EP_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def parse_entry_points(data, file: str, kind: str, endpoints: dict[str, Endpoint]) -> dict[str, tuple[EntryPoint, ...]]:
    """``entry_points:`` system -> list of {name, kind, description, endpoints}. An external profile's
    entry point names the endpoints that differ from the profile's (same name, same protocol); a
    virtual profile's have none (the virtual environment fills them: two EHR nodes)."""
    section = require(data, "entry_points", dict, default={})
    out: dict[str, tuple[EntryPoint, ...]] = {}
    for system, items in section.items():
        where, line = f"entry_points.{system}", section.line_of(system)
        if not isinstance(items, list) or not items:
            raise ConfigError("expected a list of entry points ({name, kind, description, endpoints})",
                              file=file, key=where, line=line)
        seen: list[EntryPoint] = []
        for i, item in enumerate(items):
            at = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise ConfigError("expected a mapping with name (and kind, description, endpoints)",
                                  file=file, key=at, line=line)
            reject_unknown(item, {"name", "kind", "description", "endpoints"}, where=at)
            name = require(item, "name", str, where=at)
            if not _EP_NAME.fullmatch(name):
                raise ConfigError(f"an entry point name is lower case letters, digits, . _ - (got {name!r})",
                                  file=file, key=f"{at}.name", line=item.line_of("name"))
            if any(e.name == name for e in seen):
                raise ConfigError(f"entry point {name!r} is named twice in {system}", file=file,
                                  key=f"{at}.name", line=item.line_of("name"))
            eps = require(item, "endpoints", dict, where=at, default={})
            if kind == "virtual" and eps:
                raise ConfigError("a virtual profile's entry points get their endpoints from the virtual "
                                  "environment: leave endpoints out", file=file, key=f"{at}.endpoints",
                                  line=item.line_of("endpoints"))
            if kind == "external" and not eps:
                raise ConfigError("an external entry point names the endpoints it is reached through "
                                  "(e.g. ehr_fhir, ehr_api, radiology_mllp)", file=file, key=f"{at}.endpoints",
                                  line=item.line_of("endpoints") or item.line_of("name"))
            parsed: dict[str, Endpoint] = {}
            for ep_name, ep_data in eps.items():
                ep_where = f"{at}.endpoints.{ep_name}"
                if ep_name not in endpoints:
                    raise ConfigError(f"not an endpoint of this profile (it has: {', '.join(sorted(endpoints))}); "
                                      "an entry point replaces endpoints the profile names", file=file,
                                      key=ep_where, line=eps.line_of(ep_name))
                if not isinstance(ep_data, dict):
                    raise ConfigError("expected a mapping", file=file, key=ep_where, line=eps.line_of(ep_name))
                ep = parse_endpoint(ep_name, ep_data, ep_where)
                if ep.protocol != endpoints[ep_name].protocol:
                    raise ConfigError(f"protocol {ep.protocol} differs from endpoints.{ep_name} "
                                      f"({endpoints[ep_name].protocol})", file=file, key=f"{ep_where}.protocol",
                                      line=ep_data.line_of("protocol"))
                parsed[ep_name] = ep
            seen.append(EntryPoint(name, require(item, "kind", str, where=at, default="node", choices=ENTRY_POINT_KINDS),
                                   require(item, "description", str, where=at, default=""), parsed))
        if kind == "virtual" and len(seen) > 2:
            raise ConfigError("the virtual environment runs two nodes of a system: name at most two entry points",
                              file=file, key=where, line=line)
        out[system] = tuple(seen)
    return out
