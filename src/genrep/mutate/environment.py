"""The environment under test behind ``genrep mutate``'s proxies, and the profile that points the
suite at them.

``_Env`` starts the environment (the simulators, for a virtual profile; an external profile's
endpoints are used as they are), puts an MLLP proxy in front of the EHR's inbound MLLP endpoint
(``radiology_mllp``) and an HTTP proxy in front of its FHIR endpoint (``ehr_fhir``), and in the
virtual environment HTTP proxies on the EHR's own outbound paths to NLL and Multum
(``genrep.sim.process``'s ``outbound`` option) and the fault relay (``mutate.fault_relay``, its
token in an environment variable for the suite's fault commands). ``stop`` undoes everything, on
every exit path. ``derived_profile`` is the profile the suite runs against: the two inbound
endpoints replaced by the proxies, every other endpoint as it was.

Split from ``mutate.run`` (issue 13), which re-exports ``derived_profile``, ``_Env``,
``MLLP_ENDPOINT`` and ``FHIR_ENDPOINT``.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from urllib.parse import urlsplit

from genrep.config.profile import Profile
from genrep.mutate.fault_relay import TOKEN_ENV, FaultRelay
from genrep.mutate.message import OUTBOUND
from genrep.mutate.operators.base import Operator
from genrep.mutate.proxy import HTTPProxy, MLLPProxy, Switch

__all__ = ["FHIR_ENDPOINT", "MLLP_ENDPOINT", "derived_profile"]

MLLP_ENDPOINT, FHIR_ENDPOINT = "radiology_mllp", "ehr_fhir"


# -- the derived profile -------------------------------------------------------------------------

def _plain(value):
    """A YAML-safe copy of a profile section (Located mappings are dict subclasses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def derived_profile(live: Profile, mllp_port: int, fhir_port: int, *, host: str = "127.0.0.1",
                    faults: dict | None = None) -> dict:
    """The profile the suite runs against: the EHR's inbound MLLP and FHIR endpoints replaced by the
    proxies (plain, on loopback), every other endpoint as ``live`` has it; ``faults``: the section
    that injects faults (the fault relay's, for a virtual environment), else ``live``'s own."""
    endpoints = {name: ep.as_profile_data() for name, ep in live.endpoints.items()}
    fhir = live.endpoint(FHIR_ENDPOINT)
    endpoints[MLLP_ENDPOINT] = {"protocol": "mllp", "host": host, "port": mllp_port}
    proxied = {"protocol": "http", "base_url": f"http://{host}:{fhir_port}{urlsplit(fhir.base_url).path}"}
    for key in ("credentials_env", "credentials_file"):
        if key in endpoints[FHIR_ENDPOINT]:
            proxied[key] = endpoints[FHIR_ENDPOINT][key]
    endpoints[FHIR_ENDPOINT] = proxied
    data = {"name": f"{live.name}-mutate", "kind": "external", "production": False,
            "description": f"{live.name} behind genrep mutate's proxies (written by genrep mutate)",
            "endpoints": endpoints,
            "timeouts": {"connect": live.timeouts.connect, "read": live.timeouts.read},
            "certificates": {"min_days_valid": live.min_days_valid}}
    if live.extra_hosts:
        data["allowed_hosts"] = list(live.extra_hosts)
    if live.test_patients:
        data["test_patients"] = {k: list(v) for k, v in live.test_patients.items()}
    if getattr(live, "test_users", None):  # the access matrix's users (role -> user id)
        data["test_users"] = dict(live.test_users)
    if faults:
        data["faults"] = faults
    elif live.faults:
        data["faults"] = _plain(live.faults)
    return data


@contextmanager
def _environ(name: str, value: str):
    """``os.environ[name] = value`` for the suite runs started inside (restored after)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


class _Env:
    """The environment under test with the proxies in front of it (and, in the virtual environment,
    on the EHR's outbound paths, with the fault relay); ``stop`` undoes everything."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.venv = None
        self.live = profile
        self.switch = Switch()
        self.mllp: MLLPProxy | None = None
        self.http: HTTPProxy | None = None
        self.outbound: dict[str, HTTPProxy] = {}  # "nll", "multum" -> the proxy the EHR calls
        self.relay: FaultRelay | None = None
        self._token_env = None

    def _outbound_proxy(self, name: str, url: str) -> str:
        """``genrep.sim.process``'s ``outbound`` hook: a proxy in front of ``url``, its URL back."""
        parts = urlsplit(url)
        channels = OUTBOUND[name]
        t = self.profile.timeouts
        # read bound above the EHR's own (3 s NLL, 4 s Multum): the EHR gives up first, as without us
        proxy = HTTPProxy(parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80),
                          self.switch, tls=parts.scheme == "https", connect_timeout=t.connect,
                          read_timeout=max(t.read, 10.0), channels=channels, name=f"http-proxy-{name}")
        self.outbound[name] = proxy.start()
        return f"http://127.0.0.1:{proxy.port}{parts.path}"

    def start(self) -> None:
        from genrep.transport.tls import client_context
        if self.profile.kind == "virtual":
            from genrep.sim.process import start_virtual_environment
            self.venv = start_virtual_environment(self.profile, outbound=self._outbound_proxy)
            self.live = self.venv.profile
            nll = self.outbound.get("nll")
            if nll is not None and nll.tls and "nll_fhir" in self.live.endpoints:
                ep = self.live.endpoint("nll_fhir")  # the EHR's TLS to NLL: the harness's client side
                nll.use_tls(client_context(self.live, ep), ep.server_name)
            self._start_relay()
        mllp_ep, fhir_ep = self.live.endpoint(MLLP_ENDPOINT), self.live.endpoint(FHIR_ENDPOINT)
        t = self.live.timeouts
        self.mllp = MLLPProxy(mllp_ep.host, mllp_ep.port, self.switch, ssl_context=client_context(self.live, mllp_ep),
                              server_hostname=mllp_ep.server_name, connect_timeout=t.connect).start()
        self.http = HTTPProxy(fhir_ep.host, fhir_ep.port, self.switch, tls=fhir_ep.tls,
                              ssl_context=client_context(self.live, fhir_ep), server_hostname=fhir_ep.server_name,
                              connect_timeout=t.connect, read_timeout=t.read).start()

    def _start_relay(self) -> None:
        from genrep.faults.sim import SimFaultDriver
        from genrep.secrets import register_secret
        token = secrets.token_urlsafe(24)
        register_secret(token)
        self.relay = FaultRelay(SimFaultDriver(self.venv), token).start()
        self._token_env = _environ(TOKEN_ENV, token)  # the suite's fault commands read it
        self._token_env.__enter__()

    def faults_section(self) -> dict | None:
        """The derived profile's ``faults``: the relay's commands for every target it can fail."""
        if self.relay is None:
            return None
        from genrep.faults.sim import TARGETS
        return self.relay.profile_section({name: spec.faults for name, spec in TARGETS.items()
                                           if name in self.venv.processes})

    def can_run(self, op: Operator) -> bool:
        """Can ``op``'s channel be reached here? (outbound channels: only with an outbound proxy)"""
        paths = [name for name, pair in OUTBOUND.items() if op.channel in pair]
        return all(name in self.outbound for name in paths)

    def clear_faults(self) -> None:
        """Undo any fault a suite run left injected (its scenarios clear their own; a stopped run may not)."""
        if self.relay is not None:
            self.relay.clear_all()

    def reset_store(self) -> bool:
        """Empty the virtual EHR's store (no-op against an external environment)."""
        if self.venv is None or "ehr_admin" not in self.live.endpoints:
            return False
        from genrep.transport.endpoints import http_transport_for
        transport = http_transport_for(self.live, "ehr_admin")
        try:
            transport.request("POST", "reset")
        finally:
            transport.session.close()
        return True

    def stop(self) -> None:
        try:
            self.switch.set(None)
            for proxy in (self.mllp, self.http, *self.outbound.values()):
                if proxy is not None:
                    proxy.stop()
            if self.relay is not None:
                self.relay.stop()
        finally:
            try:
                if self._token_env is not None:
                    self._token_env.__exit__(None, None, None)
                    self._token_env = None
            finally:
                if self.venv is not None:
                    self.venv.stop()
