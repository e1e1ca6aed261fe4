"""A profile's endpoints: what one endpoint is (``Endpoint``: MLLP host and port or an HTTP base URL,
TLS options, where its credentials are read from, an MLLP peer's connection and resend rules, its
acknowledgement mode and documented code pages) and how an ``endpoints.NAME`` mapping of a profile
is read and checked.

Its own module because an endpoint is read in two places of a profile (``endpoints:`` and each entry
point's ``endpoints:``) and is what every client is built from (``genrep.transport.endpoints``);
re-exported by ``genrep.config.profile``. A secret is never read or held here, only the name of the
environment variable or the path of the file that holds it. Errors name file, key and line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from genrep.errors import ConfigError
from genrep.yamlfile import reject_unknown, require

TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    # MLLP only: original (MSH-15/16 empty) | enhanced (MSH-15/16 AL: a commit ACK, then the application ACK)
    ack_mode: str = "original"
    # MLLP only: the peer's documented deviation from HL7 table 0211, MSH-18 value (upper case) ->
    # the Windows code page genrep reads and writes it with, e.g. (("8859/1", "cp1252"),); () = strict
    code_pages: tuple[tuple[str, str], ...] = ()

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

    @property
    def code_page_map(self) -> dict[str, str]:
        """``code_pages`` as the mapping ``hl7.encode``, ``hl7.decode`` and ``hl7.parse_ack`` take."""
        return dict(self.code_pages)

    @property
    def deviations(self) -> tuple[str, ...]:
        """What this endpoint's settings make genrep do outside the HL7 standard, one line each, for
        the reports (recorded, never silent): today the documented code pages."""
        return tuple(f"{self.config_key}: MSH-18 {label!r} is read and written as {page} (code_pages: the peer's "
                     f"documented deviation from HL7 table 0211)" for label, page in self.code_pages)

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
            if self.ack_mode != "original":
                d["ack_mode"] = self.ack_mode
            if self.code_pages:
                d["code_pages"] = dict(self.code_pages)
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


_EP_KEYS = {"protocol", "host", "port", "base_url", "tls", "credentials_env", "credentials_file", "connection",
            "resend", "ack_mode", "code_pages"}
#: an MLLP endpoint's ``connection:`` and ``resend:`` (the rules: MLLPClient, docs/robustness.md "Real peers")
MLLP_CONNECTIONS = ("persistent", "per_message")
MLLP_RESENDS = ("never", "unacknowledged")
#: an MLLP endpoint's ``ack_mode:`` (``hl7.build.ACK_MODES``: what MSH-15/16 genrep's messages carry)
MLLP_ACK_MODES = ("original", "enhanced")
#: the settings that apply to MLLP endpoints only
_MLLP_ONLY = ("connection", "resend", "ack_mode", "code_pages")
_TLS_KEYS = {"ca_file", "client_cert", "client_key", "client_key_password_env", "client_key_password_file",
             "server_name", "min_version"}


def recorded_deviations(profile) -> tuple[str, ...]:
    """Every ``Endpoint.deviations`` of a profile (its endpoints, then its entry points'), for the
    reports: a documented deviation from the standard is recorded, never silent."""
    endpoints = list(profile.endpoints.values())
    endpoints += [e for eps in profile.entry_points.values() for ep in eps for e in ep.endpoints.values()]
    return tuple(dict.fromkeys(line for ep in endpoints for line in ep.deviations))


def env_name(data, key: str, where: str) -> str:
    """An environment variable *name* (a pasted secret value is refused, naming the key)."""
    value = require(data, key, str, where=where, default="")
    if value and not _ENV_NAME.fullmatch(value):
        raise ConfigError("expected the NAME of an environment variable (letters, digits, _), not a value; "
                          "secrets never go in the profile", file=getattr(data, "file", None) or None,
                          key=f"{where}.{key}", line=data.line_of(key))
    return value


def file_path(data, key: str, where: str, *, must_exist: bool = True) -> str:
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
        ca_file=file_path(data, "ca_file", where), client_cert=file_path(data, "client_cert", where),
        client_key=file_path(data, "client_key", where),
        client_key_password_env=env_name(data, "client_key_password_env", where),
        client_key_password_file=file_path(data, "client_key_password_file", where),
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


def _parse_code_pages(data, where: str) -> tuple[tuple[str, str], ...]:
    """``code_pages:`` of an MLLP endpoint: {MSH-18 value: Windows code page}. Keys are table 0211's
    single-byte sets (``hl7.charsets.CODE_PAGE_LABELS``), values ``hl7.charsets.WINDOWS_CODE_PAGES``."""
    if "code_pages" not in data:
        return ()
    from genrep.hl7.charsets import CODE_PAGE_LABELS, WINDOWS_CODE_PAGES
    file = getattr(data, "file", None) or None
    value = data["code_pages"]
    key = f"{where}.code_pages"
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"expected a mapping of MSH-18 value to code page, e.g. {{\"8859/1\": \"cp1252\"}}, "
                          f"got {value!r}", file=file, key=key, line=data.line_of("code_pages"))
    out: dict[str, str] = {}
    for label, page in value.items():
        line = (value.line_of(label) if hasattr(value, "line_of") else None) or data.line_of("code_pages")
        norm = str(label).strip().upper()
        if norm not in CODE_PAGE_LABELS:
            raise ConfigError(f"{label!r} is not an MSH-18 value a code page can stand for (HL7 table 0211's "
                              f"single-byte sets: {', '.join(CODE_PAGE_LABELS)})", file=file,
                              key=f"{key}.{label}", line=line)
        if not isinstance(page, str) or page.strip().lower() not in WINDOWS_CODE_PAGES:
            raise ConfigError(f"must be one of {', '.join(WINDOWS_CODE_PAGES)}; got {page!r}", file=file,
                              key=f"{key}.{label}", line=line)
        if norm in out:
            raise ConfigError(f"{label!r} is named twice", file=file, key=f"{key}.{label}", line=line)
        out[norm] = page.strip().lower()
    return tuple(out.items())


def parse_endpoint(name: str, data, where: str) -> Endpoint:
    reject_unknown(data, _EP_KEYS, where=where)
    protocol = require(data, "protocol", str, where=where, choices=("mllp", "http"))
    tls_value = require(data, "tls", (bool, dict), where=where, default=False)
    tls = tls_value is not False
    opts = _parse_tls(tls_value, f"{where}.tls") if isinstance(tls_value, dict) else TLSOptions()
    cred = env_name(data, "credentials_env", where)
    cred_file = file_path(data, "credentials_file", where)
    if cred and cred_file:
        raise ConfigError("give the credentials either from an environment variable or from a file, not both",
                          file=data.file, key=f"{where}.credentials_file", line=data.line_of("credentials_file"))
    if protocol == "mllp" and (cred or cred_file):
        key = "credentials_env" if cred else "credentials_file"
        raise ConfigError("MLLP carries no bearer token; credentials apply to http endpoints only",
                          file=data.file, key=f"{where}.{key}", line=data.line_of(key))
    for key in _MLLP_ONLY:
        if protocol != "mllp" and key in data:
            kind = "connection setting" if key in ("connection", "resend") else "setting (HL7 v2 over MLLP)"
            raise ConfigError(f"{key} is an MLLP {kind}; it does not apply to http endpoints",
                              file=data.file, key=f"{where}.{key}", line=data.line_of(key))
    if protocol == "mllp":
        connection = require(data, "connection", str, where=where, default="persistent", choices=MLLP_CONNECTIONS)
        resend = require(data, "resend", str, where=where, default="never", choices=MLLP_RESENDS)
        ack_mode = require(data, "ack_mode", str, where=where, default="original", choices=MLLP_ACK_MODES)
        code_pages = _parse_code_pages(data, where)
        host = require(data, "host", str, where=where)
        port = require(data, "port", int, where=where)
        if not host.strip():
            raise ConfigError("host is empty", file=data.file, key=f"{where}.host", line=data.line_of("host"))
        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port} out of range (1-65535)", file=data.file, key=f"{where}.port",
                              line=data.line_of("port"))
        return Endpoint(name, protocol, host, port, tls=tls, tls_options=opts, origin=where,
                        connection=connection, resend=resend, ack_mode=ack_mode, code_pages=code_pages)
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
