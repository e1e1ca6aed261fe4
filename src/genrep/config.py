"""Environment profiles: where the system under test is, and the only hosts traffic may go to.

A profile is a YAML file in ``environments/`` selected by ``--env NAME`` or ``GENREP_ENV``
(default ``virtual``). ``kind: virtual`` means "start the built-in virtual environment on loopback";
``kind: external`` points at a real test environment. The same steps run against either: only the
profile changes. A profile marked ``production: true`` is refused outright, and every client the
harness creates asks the profile first (``Profile.check_host``), so traffic goes only to hosts the
profile names. Credentials are never in the file: the file names environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError
from .yamlfile import load_yaml, reject_unknown, require

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS_DIR = PROJECT_ROOT / "environments"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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

    @property
    def address(self) -> str:
        return self.base_url or f"{self.host}:{self.port}"


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
    # how faults are injected in a real environment (validated by genrep.faults.driver_for)
    faults: dict = field(default_factory=dict)

    @property
    def allowed_hosts(self) -> set[str]:
        hosts = {e.host for e in self.endpoints.values()} | set(self.extra_hosts)
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

    def with_endpoints(self, endpoints: dict[str, Endpoint]) -> "Profile":
        for ep in endpoints.values():
            if ep.host not in LOOPBACK:
                raise ConfigError(f"virtual endpoint {ep.name} must be on loopback, got {ep.host}")
        return replace(self, endpoints={**self.endpoints, **endpoints})

    def token(self, endpoint: Endpoint) -> str | None:
        """The bearer token for an HTTP endpoint, read from the environment variable the profile names."""
        if not endpoint.credential_env:
            return None
        value = os.environ.get(endpoint.credential_env)
        if not value:
            raise ConfigError(f"environment variable {endpoint.credential_env} (credentials for "
                              f"{endpoint.name}) is not set", file=self.file or None,
                              key=f"endpoints.{endpoint.name}.credentials_env")
        return value


_TOP_KEYS = {"name", "kind", "description", "production", "endpoints", "timeouts", "allowed_hosts",
             "test_patients", "faults"}
_EP_KEYS = {"protocol", "host", "port", "base_url", "tls", "credentials_env"}


def _parse_endpoint(name: str, data, where: str) -> Endpoint:
    reject_unknown(data, _EP_KEYS, where=where)
    protocol = require(data, "protocol", str, where=where, choices=("mllp", "http"))
    tls = require(data, "tls", bool, where=where, default=False)
    cred = require(data, "credentials_env", str, where=where, default="")
    if protocol == "mllp":
        host = require(data, "host", str, where=where)
        port = require(data, "port", int, where=where)
        if not host.strip():
            raise ConfigError("host is empty", file=data.file, key=f"{where}.host", line=data.line_of("host"))
        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port} out of range (1-65535)", file=data.file, key=f"{where}.port",
                              line=data.line_of("port"))
        return Endpoint(name, protocol, host, port, tls=tls, credential_env=cred)
    base_url = require(data, "base_url", str, where=where)
    parts = urlsplit(base_url)
    try:
        url_port = parts.port  # raises ValueError for ":99999" or ":abc"
    except ValueError:
        url_port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or url_port == -1 or url_port == 0:
        raise ConfigError(f"not an http(s) URL with a valid host and port: {base_url!r}", file=data.file,
                          key=f"{where}.base_url", line=data.line_of("base_url"))
    return Endpoint(name, protocol, parts.hostname, url_port or (443 if parts.scheme == "https" else 80),
                    base_url=base_url.rstrip("/"), tls=parts.scheme == "https", credential_env=cred)


def load_profile(name_or_path: str | None = None, *, defects: tuple[str, ...] | None = None) -> Profile:
    """Load a profile by name (``environments/NAME.yaml``) or path; GENREP_ENV, then 'virtual'."""
    name_or_path = name_or_path or os.environ.get("GENREP_ENV") or "virtual"
    path = Path(name_or_path)
    if not path.suffix:
        path = ENVIRONMENTS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in ENVIRONMENTS_DIR.glob("*.yaml")))
        raise ConfigError(f"no environment profile '{name_or_path}' (known: {known})", file=str(path))
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("a profile must be a mapping", file=str(path))
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
    if defects is None:
        env_defects = os.environ.get("GENREP_DEFECTS", "")
        defects = tuple(d.strip() for d in env_defects.split(",") if d.strip())
    if defects and kind != "virtual":
        raise ConfigError("defects can only be switched on in the virtual environment", file=str(path))
    return Profile(name=require(data, "name", str), kind=kind,
                   description=require(data, "description", str, default=""),
                   endpoints=endpoints, timeouts=timeouts, file=str(path), defects=tuple(defects),
                   extra_hosts=extra, test_patients=test_patients,
                   faults=dict(require(data, "faults", dict, default={})))
