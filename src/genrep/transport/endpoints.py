"""The one place a client is built from a profile endpoint (``mllp_client_for``,
``http_transport_for``), so every integration client, fault driver and load user gets the same TLS,
timeouts, host check and credentials."""

from __future__ import annotations

from genrep.config.profile import Endpoint, Profile
from genrep.errors import ConfigError
from genrep.transport.http import HttpTransport
from genrep.transport.mllp import MLLPClient
from genrep.transport.tls import client_context

# -- factories: every client built from a profile endpoint -----------------------------------------


def _resolve(profile: Profile, endpoint: str | Endpoint) -> Endpoint:
    if isinstance(endpoint, Endpoint):
        profile.check_host(endpoint.host)
        return endpoint
    return profile.endpoint(endpoint)


def mllp_client_for(profile: Profile, endpoint: str | Endpoint, *, connect_timeout: float | None = None,
                    read_timeout: float | None = None, max_frame: int = 16 * 1024 * 1024):
    """An MLLPClient for a profile endpoint: its TLS (if any), the profile's timeouts, its name, its
    connection policy and resend rule (``connection:``, ``resend:``)."""
    ep = _resolve(profile, endpoint)
    if ep.protocol != "mllp":
        raise ConfigError(f"endpoint {ep.name} is {ep.protocol}, not mllp", file=profile.file or None,
                          key=f"{ep.config_key}.protocol")
    return MLLPClient(ep.host, ep.port,
                      connect_timeout=profile.timeouts.connect if connect_timeout is None else connect_timeout,
                      read_timeout=profile.timeouts.read if read_timeout is None else read_timeout,
                      max_frame=max_frame, ssl_context=client_context(profile, ep),
                      server_hostname=ep.server_name if ep.tls else None, name=ep.name,
                      connection=ep.connection, resend=ep.resend)


def http_transport_for(profile: Profile, endpoint: str | Endpoint, *, with_token: bool = True,
                       user_agent: str = "genrep", connect_timeout: float | None = None,
                       read_timeout: float | None = None, max_body_bytes: int = 32 * 1024 * 1024,
                       transport_class=None):
    """An HttpTransport for a profile endpoint: TLS, token (if the profile names one), host check."""
    ep = _resolve(profile, endpoint)
    if ep.protocol != "http":
        raise ConfigError(f"endpoint {ep.name} is {ep.protocol}, not http", file=profile.file or None,
                          key=f"{ep.config_key}.protocol")
    cls = transport_class or HttpTransport
    return cls(ep.base_url,
               connect_timeout=profile.timeouts.connect if connect_timeout is None else connect_timeout,
               read_timeout=profile.timeouts.read if read_timeout is None else read_timeout,
               token=profile.token(ep) if with_token else None, check_host=profile.check_host,
               user_agent=user_agent, max_body_bytes=max_body_bytes,
               ssl_context=client_context(profile, ep),
               server_hostname=ep.tls_options.server_name or None, name=ep.name)


