"""Environment profiles: where the system under test is, and the only hosts traffic may go to.

A profile is a YAML file in ``environments/`` selected by ``--env NAME`` or ``GENREP_ENV``
(default ``virtual``). ``kind: virtual`` means "start the built-in virtual environment on loopback";
``kind: external`` points at a real test environment. The same steps run against either: only the
profile changes. A profile marked ``production: true`` is refused outright, and every client the
harness creates asks the profile first (``Profile.check_host``), so traffic goes only to hosts the
profile names. Credentials are never in the file: the file names environment variables (or
files), and a URL carrying a user or password (``https://user:pass@host``) is refused, naming the
key, with the password masked, before anything prints or writes the profile.

``--env`` is typed by hand, so every form of it that is not a readable profile (an empty value, a
directory, a FIFO, a symbolic link loop, a missing path, a file that is not UTF-8, not YAML or not
a mapping) is a ``ConfigError`` (exit 2 with one line), never a traceback or a hang.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from genrep.errors import ConfigError
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

from genrep.paths import ENVIRONMENTS_DIR
from genrep.secrets import register_secret
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
DEFAULT_MIN_DAYS_VALID = 30
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# scheme://userinfo@ : the authority part (no "/", "?", "#" before the last "@") holds a user or
# password; greedy, so a raw "@" typed inside a password is masked with the rest of it
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


@dataclass(frozen=True)
class TLSOptions:
    """Client TLS settings of one endpoint. Paths are absolute (resolved when the profile loads);
    secrets are never held here, only where to read them (an env var name or a file path)."""

    ca_file: str = ""                   # PEM trust anchors; "" = the system trust store
    client_cert: str = ""               # PEM client certificate (and chain) for mutual TLS
    client_key: str = ""                # PEM private key; "" = the key is in client_cert
    client_key_password_env: str = ""   # env var holding the key's password
    client_key_password_file: str = ""  # or a file holding it
    server_name: str = ""               # name the server certificate must carry (and SNI); "" = host
    min_version: str = "TLSv1.2"

    @property
    def mutual(self) -> bool:
        return bool(self.client_cert)


@dataclass(frozen=True)
class Endpoint:
    """One integration endpoint: MLLP (host, port) or HTTP (base_url)."""

    name: str
    protocol: str  # mllp | http
    host: str
    port: int
    base_url: str = ""
    tls: bool = False
    credential_env: str = ""  # name of the env var holding a bearer token (http only)
    credential_file: str = ""  # or the path of a file holding it (read at use, whitespace stripped)
    tls_options: TLSOptions = field(default_factory=TLSOptions)
    origin: str = ""  # where it was configured, for error keys ("endpoints.NAME"; "" = derived)
    # MLLP only: the connection policy and the resend rule (genrep.transport.mllp.MLLPClient)
    connection: str = "persistent"    # persistent | per_message (a peer that closes after each ACK)
    resend: str = "never"             # never | unacknowledged (the receiver deduplicates by MSH-10)

    @property
    def address(self) -> str:
        return self.base_url or f"{self.host}:{self.port}"

    @property
    def config_key(self) -> str:
        return self.origin or f"endpoints.{self.name}"

    @property
    def server_name(self) -> str:
        """The name the server certificate must match (and SNI)."""
        return self.tls_options.server_name or self.host

    def as_profile_data(self) -> dict:
        """This endpoint as a profile's ``endpoints.NAME`` mapping (what ``load_profile`` reads back):
        for the profiles genrep writes for its own subprocesses (the load users, mutate's suite).
        Paths and variable names only, never a secret."""
        d: dict = {"protocol": self.protocol}
        if self.protocol == "mllp":
            d.update(host=self.host, port=self.port)
            if self.connection != "persistent":
                d["connection"] = self.connection
            if self.resend != "never":
                d["resend"] = self.resend
        else:
            d["base_url"] = self.base_url
        if self.tls:
            t = self.tls_options
            opts = {k: v for k, v in (("ca_file", t.ca_file), ("client_cert", t.client_cert),
                                      ("client_key", t.client_key),
                                      ("client_key_password_env", t.client_key_password_env),
                                      ("client_key_password_file", t.client_key_password_file),
                                      ("server_name", t.server_name)) if v}
            if t.min_version and t.min_version != "TLSv1.2":
                opts["min_version"] = t.min_version
            d["tls"] = opts or True
        if self.credential_env:
            d["credentials_env"] = self.credential_env
        elif self.credential_file:
            d["credentials_file"] = self.credential_file
        return d


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
class Timeouts:
    connect: float = 3.0
    read: float = 10.0


@dataclass(frozen=True)
class EntryPoint:
    """One way into a system (``entry_points:``): an application node, a desktop pool, a load-balancer
    member. ``endpoints`` replace the profile's endpoints of the same name when the journey goes
    through it (``Profile.through``); a virtual profile's are filled by the virtual environment."""

    name: str
    kind: str = "node"  # ENTRY_POINT_KINDS
    description: str = ""
    endpoints: dict[str, Endpoint] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str  # virtual | external
    description: str
    endpoints: dict[str, Endpoint]
    timeouts: Timeouts
    file: str = ""
    defects: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = field(default=())
    # integration -> test identities that already hold data there (real environments, where the
    # harness cannot plant data); numbers must be on the allowlist, checked when used
    test_patients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # role (contracts/access.yaml) -> the user id of a test user with that role; never a real directory
    test_users: dict[str, str] = field(default_factory=dict)
    # how faults are injected in a real environment (validated by genrep.faults.driver_for)
    faults: dict = field(default_factory=dict)
    # system (contracts/parity.yaml systems) -> its entry points, in order (the first is the reference)
    entry_points: dict[str, tuple[EntryPoint, ...]] = field(default_factory=dict)
    virtual: VirtualOptions = field(default_factory=VirtualOptions)
    min_days_valid: int = DEFAULT_MIN_DAYS_VALID  # certificates: {min_days_valid: N}

    @property
    def allowed_hosts(self) -> set[str]:
        hosts = {e.host for e in self.endpoints.values()} | set(self.extra_hosts)
        hosts |= {e.host for eps in self.entry_points.values() for ep in eps for e in ep.endpoints.values()}
        if self.kind == "virtual":
            hosts |= set(LOOPBACK)
        return hosts

    def check_host(self, host: str) -> None:
        """Refuse traffic to any host the selected profile does not name."""
        if host not in self.allowed_hosts:
            raise ConfigError(
                f"host {host!r} is not in environment profile '{self.name}' "
                f"(allowed: {', '.join(sorted(self.allowed_hosts))}); refusing to send",
                file=self.file or None, key="endpoints")

    def endpoint(self, name: str) -> Endpoint:
        try:
            ep = self.endpoints[name]
        except KeyError:
            raise ConfigError(f"profile '{self.name}' defines no endpoint '{name}' "
                              f"(it has: {', '.join(sorted(self.endpoints)) or 'none'})",
                              file=self.file or None, key=f"endpoints.{name}") from None
        self.check_host(ep.host)
        return ep

    def through(self, system: str, name: str) -> "Profile":
        """This profile with the endpoints of entry point ``name`` of ``system`` in place of its own
        (the ones it does not name stay): every client built from it goes through that entry point."""
        for ep in self.entry_points.get(system, ()):
            if ep.name == name:
                return replace(self, endpoints={**self.endpoints, **ep.endpoints})
        known = ", ".join(e.name for e in self.entry_points.get(system, ())) or "none"
        raise ConfigError(f"profile '{self.name}' names no entry point {name!r} of {system!r} (it has: {known})",
                          file=self.file or None, key=f"entry_points.{system}")

    def with_endpoints(self, endpoints: dict[str, Endpoint]) -> "Profile":
        for ep in endpoints.values():
            if ep.host not in LOOPBACK:
                raise ConfigError(f"virtual endpoint {ep.name} must be on loopback, got {ep.host}")
        return replace(self, endpoints={**self.endpoints, **endpoints})

    def token(self, endpoint: Endpoint) -> str | None:
        """The bearer token for an HTTP endpoint: from the environment variable or the file the
        profile names, read now (a rotated token is picked up by the next client)."""
        return self.read_secret(env=endpoint.credential_env, file=endpoint.credential_file,
                                key=f"{endpoint.config_key}.credentials", what=f"credentials for {endpoint.name}")

    def key_password(self, endpoint: Endpoint) -> str | None:
        """The password of the endpoint's client key, if the profile says where it is."""
        opts = endpoint.tls_options
        base = "virtual" if endpoint.origin == "virtual" else f"{endpoint.config_key}.tls"
        return self.read_secret(env=opts.client_key_password_env, file=opts.client_key_password_file,
                                key=f"{base}.client_key_password",
                                what=f"client key password for {endpoint.name}")

    def read_secret(self, *, env: str, file: str, key: str, what: str) -> str | None:
        """A secret from an environment variable (``env``) or a file (``file``, whitespace stripped).

        Errors name the profile, the key and the variable or file, never the value. Every value
        read is registered for redaction before it is returned."""
        if env:
            value = os.environ.get(env, "").strip()
            if not value:
                raise ConfigError(f"environment variable {env} ({what}) is not set or empty",
                                  file=self.file or None, key=f"{key}_env")
        elif file:
            try:
                value = Path(file).read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                raise ConfigError(f"{what}: file {file} does not exist", file=self.file or None,
                                  key=f"{key}_file") from None
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise ConfigError(f"{what}: cannot read {file} ({reason})", file=self.file or None,
                                  key=f"{key}_file") from None
            if not value:
                raise ConfigError(f"{what}: file {file} is empty", file=self.file or None, key=f"{key}_file")
        else:
            return None
        register_secret(value)
        return value


_TOP_KEYS = {"name", "kind", "description", "production", "endpoints", "timeouts", "allowed_hosts",
             "test_patients", "test_users", "faults", "virtual", "certificates", "entry_points"}
_EP_KEYS = {"protocol", "host", "port", "base_url", "tls", "credentials_env", "credentials_file", "connection",
            "resend"}
#: an MLLP endpoint's ``connection:`` and ``resend:`` (the rules: MLLPClient, docs/robustness.md "Real peers")
MLLP_CONNECTIONS = ("persistent", "per_message")
MLLP_RESENDS = ("never", "unacknowledged")
_TLS_KEYS = {"ca_file", "client_cert", "client_key", "client_key_password_env", "client_key_password_file",
             "server_name", "min_version"}
_VIRTUAL_KEYS = {"tls", "mutual_tls", "client_key_password_env", "require_token_env", "credentials_env",
                 "credentials_file"}


def _mask_userinfo(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}***@", text)


def _refuse_url_credentials(data, file: str, where: str = "", line: int | None = None) -> None:
    """Refuse any string in the profile holding a URL with a user or password (``base_url``,
    ``faults.api``, a URL inside a fault command, ...): the error names the file, the key and the
    line, and shows the URL with ``***`` in place of the user and password."""
    if isinstance(data, dict):
        for key, value in data.items():
            sub = f"{where}.{key}" if where else str(key)
            _refuse_url_credentials(value, file, sub, data.line_of(key) if isinstance(data, Located) else line)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            _refuse_url_credentials(item, file, f"{where}[{i}]", line)
    elif isinstance(data, str) and (found := _URL_USERINFO.search(data)):
        url = data[found.start():].split()[0]  # the URL alone: the rest of a command line may hold more
        raise ConfigError(f"{_mask_userinfo(url)!r}: a URL must not carry a user name or password; put "
                          "the credentials in an environment variable (credentials_env) or a file "
                          "(credentials_file) and name that in the profile (see docs/security.md, Secrets)",
                          file=file, key=where or None, line=line)


def _env_name(data, key: str, where: str) -> str:
    """An environment variable *name* (a pasted secret value is refused, naming the key)."""
    value = require(data, key, str, where=where, default="")
    if value and not _ENV_NAME.fullmatch(value):
        raise ConfigError("expected the NAME of an environment variable (letters, digits, _), not a value; "
                          "secrets never go in the profile", file=getattr(data, "file", None) or None,
                          key=f"{where}.{key}", line=data.line_of(key))
    return value


def _path(data, key: str, where: str, *, must_exist: bool = True) -> str:
    """A file path, relative to the profile's folder; it must exist and be readable."""
    value = require(data, key, str, where=where, default="")
    if not value:
        return ""
    file = getattr(data, "file", "") or ""
    path = Path(value).expanduser()
    if not path.is_absolute() and file:
        path = Path(file).resolve().parent / path
    if must_exist and not (path.is_file() and os.access(path, os.R_OK)):
        why = "does not exist" if not path.exists() else "is not a readable file"
        raise ConfigError(f"{path} {why}", file=file or None, key=f"{where}.{key}", line=data.line_of(key))
    return str(path)


def _parse_tls(data, where: str) -> TLSOptions:
    """``tls:`` of an endpoint: true/false or a mapping of TLSOptions."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected true, false or a mapping ({', '.join(sorted(_TLS_KEYS))}), "
                          f"got {type(data).__name__}", file=getattr(data, "file", None), key=where)
    reject_unknown(data, _TLS_KEYS, where=where)
    file = getattr(data, "file", None) or None
    opts = TLSOptions(
        ca_file=_path(data, "ca_file", where), client_cert=_path(data, "client_cert", where),
        client_key=_path(data, "client_key", where),
        client_key_password_env=_env_name(data, "client_key_password_env", where),
        client_key_password_file=_path(data, "client_key_password_file", where),
        server_name=require(data, "server_name", str, where=where, default="").strip(),
        min_version=require(data, "min_version", str, where=where, default="TLSv1.2", choices=TLS_VERSIONS))
    if (opts.client_key or opts.client_key_password_env or opts.client_key_password_file) and not opts.client_cert:
        key = next(k for k in ("client_key", "client_key_password_env", "client_key_password_file") if data.get(k))
        raise ConfigError("needs client_cert (the certificate this key belongs to)", file=file,
                          key=f"{where}.{key}", line=data.line_of(key))
    if opts.client_key_password_env and opts.client_key_password_file:
        raise ConfigError("give the key password either from an environment variable or from a file, "
                          "not both", file=file, key=f"{where}.client_key_password_file",
                          line=data.line_of("client_key_password_file"))
    if "server_name" in data and not opts.server_name:
        raise ConfigError("server_name is empty", file=file, key=f"{where}.server_name",
                          line=data.line_of("server_name"))
    return opts


def _parse_endpoint(name: str, data, where: str) -> Endpoint:
    reject_unknown(data, _EP_KEYS, where=where)
    protocol = require(data, "protocol", str, where=where, choices=("mllp", "http"))
    tls_value = require(data, "tls", (bool, dict), where=where, default=False)
    tls = tls_value is not False
    opts = _parse_tls(tls_value, f"{where}.tls") if isinstance(tls_value, dict) else TLSOptions()
    cred = _env_name(data, "credentials_env", where)
    cred_file = _path(data, "credentials_file", where)
    if cred and cred_file:
        raise ConfigError("give the credentials either from an environment variable or from a file, not both",
                          file=data.file, key=f"{where}.credentials_file", line=data.line_of("credentials_file"))
    if protocol == "mllp" and (cred or cred_file):
        key = "credentials_env" if cred else "credentials_file"
        raise ConfigError("MLLP carries no bearer token; credentials apply to http endpoints only",
                          file=data.file, key=f"{where}.{key}", line=data.line_of(key))
    for key in ("connection", "resend"):
        if protocol != "mllp" and key in data:
            raise ConfigError(f"{key} is an MLLP connection setting; it does not apply to http endpoints",
                              file=data.file, key=f"{where}.{key}", line=data.line_of(key))
    if protocol == "mllp":
        connection = require(data, "connection", str, where=where, default="persistent", choices=MLLP_CONNECTIONS)
        resend = require(data, "resend", str, where=where, default="never", choices=MLLP_RESENDS)
        host = require(data, "host", str, where=where)
        port = require(data, "port", int, where=where)
        if not host.strip():
            raise ConfigError("host is empty", file=data.file, key=f"{where}.host", line=data.line_of("host"))
        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port} out of range (1-65535)", file=data.file, key=f"{where}.port",
                              line=data.line_of("port"))
        return Endpoint(name, protocol, host, port, tls=tls, tls_options=opts, origin=where,
                        connection=connection, resend=resend)
    base_url = require(data, "base_url", str, where=where)
    parts = urlsplit(base_url)
    try:
        url_port = parts.port  # raises ValueError for ":99999" or ":abc"
    except ValueError:
        url_port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or url_port == -1 or url_port == 0:
        raise ConfigError(f"not an http(s) URL with a valid host and port: {base_url!r}", file=data.file,
                          key=f"{where}.base_url", line=data.line_of("base_url"))
    if tls and parts.scheme != "https":
        # never a silent plaintext connection to an endpoint the profile says is TLS
        raise ConfigError(f"tls is set but base_url {base_url!r} is plain http: use https://", file=data.file,
                          key=f"{where}.base_url", line=data.line_of("base_url"))
    return Endpoint(name, protocol, parts.hostname, url_port or (443 if parts.scheme == "https" else 80),
                    base_url=base_url.rstrip("/"), tls=parts.scheme == "https", credential_env=cred,
                    credential_file=cred_file, tls_options=opts, origin=where)


def _parse_virtual(data, kind: str) -> VirtualOptions:
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
        client_key_password_env=_env_name(v, "client_key_password_env", "virtual"),
        require_token_env=_env_name(v, "require_token_env", "virtual"),
        credentials_env=_env_name(v, "credentials_env", "virtual"),
        credentials_file=_path(v, "credentials_file", "virtual"))
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


def _parse_certificates(data) -> int:
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


def _parse_test_users(data, file: str) -> dict[str, str]:
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


def _parse_entry_points(data, file: str, kind: str, endpoints: dict[str, Endpoint]) -> dict[str, tuple[EntryPoint, ...]]:
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
                ep = _parse_endpoint(ep_name, ep_data, ep_where)
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


def _known_profiles() -> str:
    return ", ".join(sorted(p.stem for p in ENVIRONMENTS_DIR.glob("*.yaml"))) or "none"


def profile_path(name_or_path: str | None = None) -> Path:
    """The file ``--env`` (or GENREP_ENV, else 'virtual') means; ConfigError if there is none.

    ``None`` means "not given"; an empty or blank value was given and is refused (it would
    otherwise silently select the default)."""
    if name_or_path is None:
        name_or_path = os.environ.get("GENREP_ENV") or "virtual"
    if not name_or_path.strip():
        raise ConfigError(f"the environment profile name is empty (--env ''); give a name "
                          f"({_known_profiles()}) or the path of a profile file")
    if "\0" in name_or_path:
        raise ConfigError(f"the environment profile name {name_or_path!r} holds a NUL character")
    seps = {os.sep, os.altsep} - {None}
    has_sep = any(sep in name_or_path for sep in seps)
    as_path = [Path(name_or_path)] if has_sep or Path(name_or_path).suffix else []
    as_name = []  # environments/NAME.yaml; a name in a sub-folder, never one outside the folder
    if not Path(name_or_path).suffix:
        named = ENVIRONMENTS_DIR / f"{name_or_path}.yaml"
        if not has_sep or named.resolve().is_relative_to(ENVIRONMENTS_DIR.resolve()):
            as_name = [named]
    for path in as_path + as_name:
        try:
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError):  # also a dangling symbolic link
            continue
        except OSError:
            pass  # a link loop, no permission, a name too long: load_yaml names the problem
        return path
    if not as_path:
        raise ConfigError(f"no environment profile '{name_or_path}' (known: {_known_profiles()})",
                          file=str(as_name[0]))
    raise ConfigError(f"no such profile file (known profile names: {_known_profiles()})", file=name_or_path)


def load_profile(name_or_path: str | None = None, *, defects: tuple[str, ...] | None = None) -> Profile:
    """Load a profile by name (``environments/NAME.yaml``) or path; GENREP_ENV, then 'virtual'.

    A value with a path separator or a suffix is a path; anything else is a name. Every way it can
    fail to be a readable profile is a ConfigError naming the value or the file."""
    path = profile_path(name_or_path)
    data = load_yaml(path)  # directory, FIFO, link loop, permission, size, UTF-8, YAML: ConfigError
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise ConfigError(f"a profile must be a mapping (key: value lines), this file holds {kind}",
                          file=str(path), line=1)
    _refuse_url_credentials(data, str(path))  # first: later errors may quote a URL
    reject_unknown(data, _TOP_KEYS)
    if require(data, "production", bool, default=False):
        raise ConfigError("profile is marked production: genrep never runs against production",
                          file=str(path), key="production", line=data.line_of("production"))
    kind = require(data, "kind", str, choices=("virtual", "external"))
    endpoints: dict[str, Endpoint] = {}
    eps = require(data, "endpoints", dict, default={})
    for ep_name, ep_data in eps.items():
        if not isinstance(ep_data, dict):
            raise ConfigError("expected a mapping", file=str(path), key=f"endpoints.{ep_name}",
                              line=eps.line_of(ep_name))
        endpoints[ep_name] = _parse_endpoint(ep_name, ep_data, f"endpoints.{ep_name}")
    if kind == "external" and not endpoints:
        raise ConfigError("an external profile needs endpoints", file=str(path), key="endpoints",
                          line=data.line_of("endpoints") or data.line_of("kind"))
    t = require(data, "timeouts", dict, default={})
    if t:
        reject_unknown(t, {"connect", "read"}, where="timeouts")
    timeouts = Timeouts(connect=require(t, "connect", float, where="timeouts", default=3.0) if t else 3.0,
                        read=require(t, "read", float, where="timeouts", default=10.0) if t else 10.0)
    for key, value in (("connect", timeouts.connect), ("read", timeouts.read)):
        if not 0 < value <= 600:
            raise ConfigError(f"must be more than 0 and at most 600 seconds (every wait is bounded); got {value}",
                              file=str(path), key=f"timeouts.{key}", line=t.line_of(key) if t else None)
    extra = tuple(require(data, "allowed_hosts", list, default=[]))
    for host in extra:
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(f"each allowed host must be a host name, got {host!r}", file=str(path),
                              key="allowed_hosts", line=data.line_of("allowed_hosts"))
    tp = require(data, "test_patients", dict, default={})
    test_patients: dict[str, tuple[str, ...]] = {}
    for integration, numbers in tp.items():
        if not isinstance(numbers, list) or not all(isinstance(n, (str, int)) for n in numbers):
            raise ConfigError("expected a list of test personnummer", file=str(path),
                              key=f"test_patients.{integration}", line=tp.line_of(integration))
        test_patients[integration] = tuple(str(n) for n in numbers)
    test_users = _parse_test_users(data, str(path))
    entry_points = _parse_entry_points(data, str(path), kind, endpoints)
    if defects is None:
        env_defects = os.environ.get("GENREP_DEFECTS", "")
        defects = tuple(d.strip() for d in env_defects.split(",") if d.strip())
    if defects and kind != "virtual":
        raise ConfigError("defects can only be switched on in the virtual environment", file=str(path))
    return Profile(name=require(data, "name", str), kind=kind,
                   description=require(data, "description", str, default=""),
                   endpoints=endpoints, timeouts=timeouts, file=str(path), defects=tuple(defects),
                   extra_hosts=extra, test_patients=test_patients, test_users=test_users,
                   entry_points=entry_points,
                   faults=dict(require(data, "faults", dict, default={})),
                   virtual=_parse_virtual(data, kind), min_days_valid=_parse_certificates(data))
