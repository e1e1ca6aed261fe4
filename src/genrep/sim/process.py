"""Start and stop simulator processes: bounded waits, clean shutdown, no orphans.

A simulator prints one JSON line with its endpoints when it is ready. ``SimProcess`` waits for that
line for at most ``ready_timeout`` seconds; stopping sends SIGTERM, waits, then SIGKILL. Children
also watch their parent and exit when it disappears, and every started process is stopped at
interpreter exit, so Ctrl-C or a failing fixture leaves nothing running.

The same holds for the throw-away TLS material of ``virtual.tls`` (a CA, certificates and private
keys, unencrypted but for the harness's client key): it lives in a private temporary folder
(0700, files 0600). ``VirtualEnvironment.stop`` removes it first; an exception or Ctrl-C during
the start removes it; Ctrl-C and SIGTERM (which the CLI and the feature suite turn into the same
unwinding) reach ``stop`` through ``finally`` blocks and fixtures; the atexit hook removes what is
left. A process that is SIGKILLed (the OOM killer, a stop grace period run out) runs nothing, so its
simulators, which notice their parent is gone, remove the folder that names it as owner
(``owner.json``: pid, process start time, host), and the next start removes any such folder whose
owner is gone.

Here: the virtual environment (what is started, in which order, with which arguments, and the
profile pointing at it) and the exit hook; one simulator process is ``genrep.sim.child_process``'s,
the throw-away TLS folders are ``genrep.sim.tls_dirs``'s (their names are re-exported here).
"""

from __future__ import annotations

import atexit
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from genrep.config.profile import Endpoint, Profile, TLSOptions
from genrep.errors import GenrepError
from genrep.sim.child_process import KILL_WAIT_S, _RUNNING, SimProcess, SimStartError
from genrep.sim.defects import startup_args
from genrep.sim.lifecycle import OWNER_FILE, TLS_DIR_ENV, TLS_DIR_PREFIX
from genrep.sim.tls_dirs import (_TLS_DIRS, _owner_alive, _remove_tls_dir, _start_time, make_tls_dir,
                                 remove_stale_tls_dirs)

# the process mechanics (child_process) and the TLS folders (tls_dirs) are importable from here as before
__all__ = ["KILL_WAIT_S", "LOOPBACK", "NODE_ENDPOINTS", "OUTBOUND_PATHS", "OWNER_FILE", "SimProcess", "SimStartError",
           "TLS_DIR_ENV", "TLS_DIR_PREFIX", "VirtualEnvironment", "make_tls_dir", "remove_stale_tls_dirs",
           "same_port_args", "start_virtual_environment", "_RUNNING", "_TLS_DIRS", "_owner_alive",
           "_remove_tls_dir", "_start_time"]


@atexit.register
def _stop_all() -> None:
    for sim in list(_RUNNING):
        sim.stop(timeout=2.0)
    for d in list(_TLS_DIRS):
        _remove_tls_dir(d)
    # last: the simulator launcher, waited for (its children's CPU is then counted as ours)
    from genrep.sim import launcher
    launcher.shutdown()


def _throwaway_secret(env_name: str) -> str:
    """The value of ``env_name``; when it is not set, a random one made now and set in this
    process's environment (the simulators started next, and the harness, read it from there)."""
    from genrep.secrets import register_secret
    value = os.environ.get(env_name, "").strip()
    if not value:
        value = secrets.token_urlsafe(24)
        os.environ[env_name] = value
    register_secret(value)
    return value


_PORT_FLAGS = (("--port", "port"), ("--admin-port", "admin_port"), ("--mllp-port", "mllp_port"),
               ("--fhir-port", "fhir_port"))


def same_port_args(args: list[str], info: dict) -> list[str]:
    """``args`` with every port flag set to the port the process actually got (for a restart)."""
    out = list(args)
    for flag, key in _PORT_FLAGS:
        if flag in out and key in info:
            out[out.index(flag) + 1] = str(info[key])
    return out


@dataclass
class VirtualEnvironment:
    """The running virtual environment and the profile pointing at it.

    ``processes`` maps a simulator's name (``ehr``, ``nll``, ``multum-a``, ``multum-b``,
    ``multum-lb``, ``referral-receiver``, ``erx-receiver``) to its process; ``restart`` brings a stopped or killed one back on its ports."""

    profile: Profile
    processes: dict[str, SimProcess]
    endpoints_info: dict
    tls_dir: str | None = None  # throw-away CA, certificates and keys (removed on stop)
    #: the EHR's outbound paths given another URL at start-up (``outbound``): name -> {"upstream": the
    #: service's own URL, "given": the URL the EHR was given instead}
    outbound: dict = field(default_factory=dict)

    def process(self, name: str) -> SimProcess:
        try:
            return self.processes[name]
        except KeyError:
            raise GenrepError(f"no simulator named {name!r} (running: {', '.join(self.processes)})") from None

    def restart(self, name: str) -> dict:
        old = self.process(name)
        old.stop()
        new = SimProcess(old.module, same_port_args(old.args, old.info), env=old.env)
        info = new.start()
        self.processes[name] = new
        self.endpoints_info[name] = info
        return info

    def stop(self) -> None:
        """Remove the throw-away TLS folder (first: it takes milliseconds, and a caller may be
        killed while waiting for the simulators), then stop every simulator; safe to call twice."""
        try:
            _remove_tls_dir(self.tls_dir)
        finally:
            for p in reversed(list(self.processes.values())):
                p.stop()

    def __enter__(self) -> "VirtualEnvironment":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


#: the EHR's outbound paths, in the order ``outbound`` is asked about them
OUTBOUND_PATHS = {"nll": "NLL's FHIR base URL (the medication list)",
                  "multum": "the Multum load balancer's base URL (interaction checks)"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _mllp_settings(profile: Profile) -> dict:
    """The MLLP endpoint's own settings a virtual profile gives (``connection``, ``resend``,
    ``ack_mode``, ``code_pages``): kept on the endpoint rebuilt with the simulator's port."""
    given = profile.endpoints.get("radiology_mllp")
    if given is None or given.protocol != "mllp":
        return {}
    return {"connection": given.connection, "resend": given.resend, "ack_mode": given.ack_mode,
            "code_pages": given.code_pages}


def start_virtual_environment(profile: Profile, *, host: str = "127.0.0.1", mllp_port: int = 0,
                              fhir_port: int = 0, nll_port: int = 0,
                              defects: tuple[str, ...] | None = None,
                              outbound: Callable[[str, str], str] | None = None) -> VirtualEnvironment:
    """Start the simulators (NLL, the Multum servers and their load balancer, then the EHR that
    reads from them); return the filled profile.

    ``outbound`` (optional) puts something between the EHR and the services it calls: it is called
    with each outbound path's name and URL (``OUTBOUND_PATHS``: ``"nll"``, then ``"multum"``) once
    those services run and before the EHR starts, and the EHR is given the URL it returns instead
    (``genrep mutate`` returns a proxy of its own). The URL must be plain ``http`` on loopback; the
    harness's endpoints still point at the services themselves, so the harness reads what NLL
    really holds while the EHR reads it through the proxy. ``VirtualEnvironment.outbound`` records
    both URLs; a restarted EHR keeps the URLs it was given.

    If any simulator fails to start, the ones already started are stopped before the error is
    raised: a failed start leaves nothing running.

    With the profile's ``virtual.tls``, a throw-away CA, a server certificate for 127.0.0.1 and
    localhost and client certificates are made in a private temporary folder (removed on stop);
    the EHR's MLLP and FHIR listeners and the NLL simulator speak TLS with them (``mutual_tls``:
    and require a client certificate), the EHR reads NLL over TLS, and the profile's endpoints get
    the client settings, so the same steps run unchanged. ``virtual.require_token_env``: the EHR's
    FHIR API requires that bearer token. A named secret variable that is not set gets a random
    throw-away value for this run."""
    defects = tuple(profile.defects if defects is None else defects)
    started: dict[str, SimProcess] = {}
    tls_dir: str | None = None
    try:  # whatever happens before the environment is handed over (Ctrl-C too) undoes the start
        if profile.virtual.tls:
            remove_stale_tls_dirs()
            tls_dir = make_tls_dir()
        return _start(profile, host=host, mllp_port=mllp_port, fhir_port=fhir_port, nll_port=nll_port,
                      defects=defects, started=started, tls_dir=tls_dir, outbound=outbound)
    except BaseException:
        for p in reversed(list(started.values())):
            p.stop()
        _remove_tls_dir(tls_dir)
        raise


def _outbound_url(outbound: Callable[[str, str], str] | None, name: str, url: str, given: dict) -> str:
    """The URL the EHR is given for outbound path ``name`` (``url`` itself without ``outbound``)."""
    if outbound is None:
        return url
    new = outbound(name, url)
    parts = urlsplit(new) if isinstance(new, str) else None
    if parts is None or parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise SimStartError(f"the outbound {name} path must be given a plain http URL on loopback, "
                            f"got {new!r}")
    given[name] = {"upstream": url, "given": new}
    return new


#: the endpoints an EHR node is reached through (each node of ``entry_points.ehr`` gets its own)
NODE_ENDPOINTS = ("radiology_mllp", "ehr_fhir", "ehr_api", "ehr_admin", "ehr_referrals")


def _second_node_args(args: list[str], defects: tuple[str, ...], node: str) -> list[str]:
    """The EHR's start-up arguments for its second node: ports of its own, its name, and the defects
    built into that node only (target ``ehr-b``) besides the EHR's own."""
    out = list(args)
    for flag in ("--mllp-port", "--fhir-port", "--node"):
        out[out.index(flag) + 1] = node if flag == "--node" else "0"
    return out + startup_args(defects, "ehr-b")


def _with_nodes(profile: Profile, nodes, infos: list, endpoints: dict, host: str, scheme: str,
                tls: dict, creds: dict) -> Profile:
    """``profile`` with its EHR entry points filled: the first node's endpoints are the profile's own,
    the second's are those of process ``ehr-b``."""
    filled = []
    for i, (node, info) in enumerate(zip(nodes, infos)):
        if i == 0:
            eps = {k: endpoints[k] for k in NODE_ENDPOINTS}
        else:
            root = f"{scheme}://{host}:{info['fhir_port']}"
            eps = {"radiology_mllp": Endpoint("radiology_mllp", "mllp", host, info["mllp_port"], **tls),
                   "ehr_fhir": Endpoint("ehr_fhir", "http", host, info["fhir_port"], base_url=info["fhir_base"],
                                        **{**tls, **creds}),
                   "ehr_api": Endpoint("ehr_api", "http", host, info["fhir_port"], base_url=f"{root}/ehr", **tls),
                   "ehr_admin": Endpoint("ehr_admin", "http", host, info["fhir_port"], base_url=f"{root}/admin", **tls),
                   "ehr_referrals": Endpoint("ehr_referrals", "http", host, info["fhir_port"],
                                             base_url=info["fhir_base"], **{**tls, **creds})}
        filled.append(replace(node, endpoints=eps))
    return replace(profile, entry_points={**profile.entry_points, "ehr": tuple(filled)})


def _start(profile: Profile, *, host: str, mllp_port: int, fhir_port: int, nll_port: int,
           defects: tuple[str, ...], started: dict[str, SimProcess], tls_dir: str | None,
           outbound: Callable[[str, str], str] | None = None) -> VirtualEnvironment:
    vopts = profile.virtual
    pki = None
    server_tls: list[str] = []
    sim_env = None
    if vopts.require_token_env:
        _throwaway_secret(vopts.require_token_env)
    if tls_dir is not None:
        from genrep.transport.pki import make_pki
        password = (_throwaway_secret(vopts.client_key_password_env)
                    if vopts.mutual_tls and vopts.client_key_password_env else None)
        pki = make_pki(tls_dir, client_key_password=password)
        server_tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
        if vopts.mutual_tls:
            server_tls += ["--tls-client-ca", str(pki.ca_file)]
        sim_env = {**os.environ, TLS_DIR_ENV: tls_dir}  # removed by the simulators if we are SIGKILLed

    def start(name: str, module: str, args: list[str]) -> dict:
        sim = SimProcess(module, args, env=sim_env)
        started[name] = sim  # before start(): a start interrupted half-way is still stopped
        return sim.start()

    nll = start("nll", "genrep.sim.nll", ["--host", host, "--port", str(nll_port), *server_tls])
    multum = {}
    for name, version in (("multum-a", "2024.11"), ("multum-b", "2024.11")):
        multum[name] = start(name, "genrep.sim.multum", ["--host", host, "--port", "0", "--admin-port", "0",
                                                        "--name", name, "--content-version", version])
    from genrep.config.contracts import load_multum
    objectives = load_multum()
    lb_args = ["--host", host, "--port", "0", "--policy", "round-robin",
               "--probe-interval", str(objectives.probe_interval_seconds),
               "--failback-after", str(objectives.failback_after_healthy_probes)]
    for name, info in multum.items():
        lb_args += ["--backend", f"{name}={info['base']}"]
    # each defect goes to the simulator its entry names (sim.defects): its flags, or --defect NAME
    lb_args += startup_args(defects, "multum-lb")  # a later --policy overrides the one above
    lb = start("multum-lb", "genrep.sim.multum_lb", lb_args)
    # the receiving units' side of referrals sent from the EHR (sim.referral_receiver; restarts on its ports)
    referral_rx = start("referral-receiver", "genrep.sim.referral_receiver",
                        ["--host", host, "--port", "0", "--admin-port", "0"])
    # e-prescriptions: the prescribers' virtual cards (a throw-away SITHS-like CA, sim.erx_cards) in the
    # environment's private folder, and the receiver that trusts that CA (sim.erx_receiver)
    from genrep.config.erx import load_erx
    from genrep.sim.erx_cards import CA_FILE, make_card_store
    tls_dir = tls_dir or make_tls_dir()  # removed on stop, as the TLS material is
    erx_cards = make_card_store(os.path.join(tls_dir, "erx-cards"), load_erx())
    erx_rx = start("erx-receiver", "genrep.sim.erx_receiver",
                   ["--host", host, "--port", "0", "--admin-port", "0", "--ca-file", str(erx_cards / CA_FILE)])
    given: dict[str, dict] = {}
    args = ["--host", host, "--mllp-port", str(mllp_port), "--fhir-port", str(fhir_port),
            "--referral-url", referral_rx["base"],
            "--erx-url", erx_rx["base"], "--erx-cards", str(erx_cards),
            "--nll-url", _outbound_url(outbound, "nll", nll["fhir_base"], given),
            "--multum-url", _outbound_url(outbound, "multum", lb["base"], given)]
    args += startup_args(defects, "ehr")
    for role, user in profile.test_users.items():  # the EHR's users: the profile's test users (access matrix)
        args += ["--user", f"{user}={role}"]
    args += server_tls
    if pki is not None:
        args += ["--nll-ca-file", str(pki.ca_file)]
        if vopts.mutual_tls:
            args += ["--nll-client-cert", str(pki.peer_client_cert),
                     "--nll-client-key", str(pki.peer_client_key)]
    if vopts.require_token_env:
        args += ["--require-token-env", vopts.require_token_env]
    nodes = profile.entry_points.get("ehr", ())  # entry points of the EHR: node a (this one), node b
    if nodes:
        args += ["--node", nodes[0].name]
    ehr = start("ehr", "genrep.sim.ehr", args)
    # a second EHR node (genrep parity): the same software, services and users, its own store and ports
    ehr_b = start("ehr-b", "genrep.sim.ehr", _second_node_args(args, defects, nodes[1].name)) if len(nodes) > 1 else None
    scheme = "https" if pki is not None else "http"
    ehr_root = f"{scheme}://{host}:{ehr['fhir_port']}"
    nll_root = nll["fhir_base"].rsplit("/fhir", 1)[0]
    tls = {}
    if pki is not None:  # the harness's client side of the simulators' TLS
        tls = {"tls": True, "origin": "virtual", "tls_options": TLSOptions(
            ca_file=str(pki.ca_file),
            client_cert=str(pki.client_cert) if vopts.mutual_tls else "",
            client_key=str(pki.client_key) if vopts.mutual_tls else "",
            client_key_password_env=vopts.client_key_password_env if vopts.mutual_tls else "")}
    creds = {"credential_env": vopts.credentials_env, "credential_file": vopts.credentials_file,
             "origin": "virtual"}
    endpoints = {
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", host, ehr["mllp_port"], **tls, **_mllp_settings(profile)),
        "ehr_fhir": Endpoint("ehr_fhir", "http", host, ehr["fhir_port"], base_url=ehr["fhir_base"],
                             **{**tls, **creds}),
        "ehr_api": Endpoint("ehr_api", "http", host, ehr["fhir_port"], base_url=f"{ehr_root}/ehr", **tls),
        "ehr_admin": Endpoint("ehr_admin", "http", host, ehr["fhir_port"], base_url=f"{ehr_root}/admin", **tls),
        "nll_fhir": Endpoint("nll_fhir", "http", host, nll["port"], base_url=nll["fhir_base"], **tls),
        "nll_admin": Endpoint("nll_admin", "http", host, nll["port"], base_url=f"{nll_root}/admin", **tls),
        "multum_lb": Endpoint("multum_lb", "http", host, lb["port"], base_url=lb["base"]),
        # referrals: the EHR's referral-sending API (its FHIR base here), the receiver's admin (faults, what arrived)
        "ehr_referrals": Endpoint("ehr_referrals", "http", host, ehr["fhir_port"], base_url=ehr["fhir_base"],
                                  **{**tls, **creds}),
        "referral_receiver_admin": Endpoint("referral_receiver_admin", "http", host, referral_rx["admin_port"],
                                            base_url=referral_rx["admin"]),
        # e-prescriptions: the EHR's e-prescribing API, the receiver's admin (what arrived and verified)
        "ehr_erx": Endpoint("ehr_erx", "http", host, ehr["fhir_port"], base_url=f"{ehr_root}/ehr/erx", **tls),
        "erx_receiver_admin": Endpoint("erx_receiver_admin", "http", host, erx_rx["admin_port"],
                                       base_url=erx_rx["admin"]),
    }
    for name, info in multum.items():
        key = name.replace("-", "_")
        endpoints[key] = Endpoint(key, "http", host, info["port"], base_url=info["base"])
        endpoints[f"{key}_admin"] = Endpoint(f"{key}_admin", "http", host, info["admin_port"],
                                             base_url=info["admin"])
    filled = profile.with_endpoints(endpoints)
    if nodes:
        filled = _with_nodes(filled, nodes, [ehr, ehr_b], endpoints, host, scheme, tls, creds)
    return VirtualEnvironment(filled, started,
                              {name: sim.info for name, sim in started.items()}, tls_dir=tls_dir,
                              outbound=given)
