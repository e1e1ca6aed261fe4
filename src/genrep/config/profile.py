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

This module holds the profile, how it is found and loaded, and the refusals every profile gets first;
an endpoint and how it is read are in ``genrep.config.endpoints``, the other sections (``virtual``,
``certificates``, ``test_users``, ``entry_points``) in ``genrep.config.profile_sections``. Both are
re-exported here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from genrep.config.endpoints import MLLP_CONNECTIONS, MLLP_RESENDS, TLS_VERSIONS, Endpoint, TLSOptions, parse_endpoint
from genrep.config.profile_sections import (DEFAULT_MIN_DAYS_VALID, ENTRY_POINT_KINDS, EntryPoint, VirtualOptions,
                                            parse_certificates, parse_entry_points, parse_test_users, parse_virtual)
from genrep.errors import ConfigError
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

from genrep.paths import ENVIRONMENTS_DIR
from genrep.secrets import register_secret

__all__ = [
    "DEFAULT_MIN_DAYS_VALID", "ENTRY_POINT_KINDS", "LOOPBACK", "MLLP_CONNECTIONS", "MLLP_RESENDS", "TLS_VERSIONS",
    "Endpoint", "EntryPoint", "Profile", "TLSOptions", "Timeouts", "VirtualOptions", "load_profile", "profile_path",
]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# scheme://userinfo@ : the authority part (no "/", "?", "#" before the last "@") holds a user or
# password; greedy, so a raw "@" typed inside a password is masked with the rest of it
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


@dataclass(frozen=True)
class Timeouts:
    connect: float = 3.0
    read: float = 10.0


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
        endpoints[ep_name] = parse_endpoint(ep_name, ep_data, f"endpoints.{ep_name}")
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
    test_users = parse_test_users(data, str(path))
    entry_points = parse_entry_points(data, str(path), kind, endpoints)
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
                   virtual=parse_virtual(data, kind), min_days_valid=parse_certificates(data))
