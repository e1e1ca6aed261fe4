"""The virtual EHR: MLLP inbound (ADT, ORU^R01) and a FHIR R4 read API, in one asyncio process.

Why its own process: the harness must talk to it exactly as to a real EHR, over real sockets, so
the same steps run against a real test environment by changing only the profile. Why asyncio: a
persistent-connection MLLP listener handles thousands of messages per second on one core, where
hl7apy's server manages ~225/s with one message per connection (toolchain notes).

This module is the wiring: ``VirtualEHR`` puts the parts together, ``fhir_auth_middleware`` guards
the FHIR API, ``serve`` runs the listeners and ``main`` is ``python -m genrep.sim.ehr``. The parts:
- ``ehr_mllp``: framing, inbound validation, resend detection and ACKs (the MLLP hot path);
- ``ehr_store``: the clinical state (patients, encounters, orders, reports) and what ADT, ORM
  and ORU do to it;
- ``ehr_fhir``: the FHIR resources and the handlers that serve them;
- ``ehr_medications`` (the NLL list) and ``ehr_prescribing`` (interaction checks via Multum);
- ``ehr_referrals``: referrals sent to another unit (forwarded to ``referral_receiver``) and their feedback;
- ``ehr_erx``: e-prescriptions signed with the prescriber's virtual card (``erx_cards``), sent to ``erx_receiver``.
Each part's docstring lists its clean behaviour; defects (``genrep.sim.defects``) change exactly
one behaviour each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hmac
import json
import os
import ssl
import sys
import urllib.parse

from aiohttp import web

from genrep.errors import ConfigError
from genrep.sim.defects import DEFECTS, parse_defects
from genrep.sim.ehr_access import AccessControl, parse_users
from genrep.sim.ehr_erx import ERX_TIMEOUT_S, ErxModule
from genrep.sim.ehr_fhir import ACCESSION_SYSTEM, FHIR_JSON, PNR_SYSTEM, STATUS, FHIRApi, outcome
from genrep.sim.ehr_fingerprint import NodeFingerprint, multum_url_for
from genrep.sim.ehr_medications import MedicationModule
from genrep.sim.ehr_mllp import MLLPInbound, MLLPProtocol
from genrep.sim.ehr_prescribing import PrescribingModule
from genrep.sim.ehr_referrals import REFERRAL_TIMEOUT_S, ReferralModule
from genrep.sim.ehr_store import ACK_MEMORY, ClinicalMessages, EHRReportRecord, Store, derive_demographics
from genrep.sim.lifecycle import install_stop_signals, run_until_stopped

__all__ = ["ACCESSION_SYSTEM", "ACK_MEMORY", "FHIR_JSON", "PNR_SYSTEM", "STATUS", "EHRReportRecord",
           "MLLPProtocol", "Store", "VirtualEHR", "derive_demographics", "fhir_auth_middleware", "main",
           "serve"]


class VirtualEHR:
    """One virtual EHR: a ``Store`` shared by the MLLP side (which writes it) and the FHIR API
    (which reads it), the medication and prescribing modules, and the admin routes."""

    def __init__(self, *, defects: dict[str, int | None], max_message_bytes: int = 1048576,
                 accession_field: str = "OBR-3", accession_max_length: int = 20,
                 nll_url: str | None = None, nll_timeout: float = 3.0,
                 multum_url: str | None = None, multum_timeout: float = 4.0,
                 access: AccessControl | None = None,
                 referral_url: str | None = None, referral_timeout: float = REFERRAL_TIMEOUT_S,
                 erx_cards: dict | None = None, erx_url: str | None = None, erx_timeout: float = ERX_TIMEOUT_S):
        self.defects = defects
        self.access = access  # the access matrix on the API (ehr_access); None: not enforced
        self.store = Store()
        self.medications = MedicationModule(nll_url, defects, timeout=nll_timeout)
        self.prescribing = PrescribingModule(multum_url_for(multum_url, defects), defects, timeout=multum_timeout)
        self.referrals = ReferralModule(self.store, referral_url, defects, timeout=referral_timeout)
        self.erx = ErxModule(self.store, erx_cards or {}, erx_url, defects, timeout=erx_timeout)  # e-prescriptions
        self.clinical = ClinicalMessages(self.store, defects=defects, accession_field=accession_field,
                                         accession_max_length=accession_max_length)
        self.mllp = MLLPInbound(self.store, self.clinical.apply, defects=defects,
                                max_message_bytes=max_message_bytes)
        self.fhir = FHIRApi(self.store, self.medications)
        self.fingerprint = NodeFingerprint(self, defects)  # GET /fhir/$fingerprint (ehr_fingerprint)

    def mllp_protocol(self) -> asyncio.Protocol:
        return self.mllp.protocol()

    def routes(self, app: web.Application) -> None:
        self.fhir.routes(app)
        self.referrals.routes(app)  # referrals to other units (before the catch-all)
        self.fingerprint.routes(app)
        self.erx.routes(app)  # e-prescriptions signed with the prescriber's card (ehr_erx)
        app.router.add_post("/ehr/prescribe", self.prescribing.prescribe)
        app.router.add_get("/ehr/interaction-audit", self.prescribing.audit_log)
        app.router.add_get("/admin/health", self.health)
        app.router.add_post("/admin/reset", self.reset)
        if self.access is not None:  # its stand-in creates, where no module serves the route
            self.access.routes(app)
        app.router.add_route("*", "/fhir/{tail:.*}", self.fhir.not_found)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid(), "defects": sorted(self.defects),
                                  "counters": self.store.counters})

    async def reset(self, request: web.Request) -> web.Response:
        self.store.reset()
        self.referrals.reset()
        self.erx.reset()
        return web.json_response({"status": "reset"})


def fhir_auth_middleware(token: str):
    """The FHIR auth check: every ``/fhir`` request (``/fhir/metadata`` excepted, as FHIR servers
    publish their capabilities) must carry ``Authorization: Bearer <token>``; otherwise 401 with an
    OperationOutcome. The 401 echoes the credential it was sent, raw, URL-encoded and base64, as
    some real servers and gateways do: that lets tests prove the harness redacts whatever a server
    sends back, in whatever encoding."""
    expected = f"Bearer {token}".encode("utf-8")

    @web.middleware
    async def check(request: web.Request, handler):
        if request.path.startswith("/fhir") and request.path != "/fhir/metadata":
            got = request.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode("utf-8"), expected):
                sent = got.partition(" ")[2].strip()
                # echoed raw, URL-encoded and base64-encoded (the header whole, as Basic-style
                # logs show it): servers and gateways echo credentials in each of these
                text = ("missing Authorization: Bearer token" if not got else
                        f"bearer token not accepted (received {sent!r}; url-encoded "
                        f"{urllib.parse.quote(sent, safe='')}; header as base64 "
                        f"{base64.b64encode(got.encode('utf-8')).decode('ascii')})")
                resp = outcome(401, "login", text)
                resp.headers["WWW-Authenticate"] = 'Bearer realm="genrep virtual EHR"'
                return resp
        return await handler(request)

    return check


async def serve(host: str, mllp_port: int, fhir_port: int, ehr: VirtualEHR, ready, *,
                ssl_context=None, nll_ssl_context=None, require_token: str | None = None) -> None:
    """Run the MLLP and FHIR listeners until stopped. ``ssl_context``: both listeners speak TLS
    (with a client CA loaded, they require a client certificate); ``nll_ssl_context``: the
    medication module reads NLL over TLS with it; ``require_token``: the FHIR API wants it."""
    # The parent is read before announcing ready: once the ready line is out the parent may die
    # at any moment, and a parent read after that would already be init (an orphan forever).
    stop, parent = install_stop_signals()
    loop = asyncio.get_running_loop()
    tls_kwargs = {"ssl": ssl_context, "ssl_handshake_timeout": 10.0} if ssl_context is not None else {}
    server = await loop.create_server(ehr.mllp_protocol, host, mllp_port, **tls_kwargs)
    middlewares = [fhir_auth_middleware(require_token)] if require_token else []
    if ehr.access is not None:  # after the token check: who acts is asked only of an authenticated caller
        middlewares.append(ehr.access.middleware())
    app = web.Application(client_max_size=2 ** 20, middlewares=middlewares)
    ehr.routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await ehr.medications.start()
    if nll_ssl_context is not None:  # the same session settings, over TLS to the NLL simulator
        import aiohttp
        await ehr.medications.session.close()
        ehr.medications.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=ehr.medications.timeout),
            connector=aiohttp.TCPConnector(ssl=nll_ssl_context))
    await ehr.prescribing.start()
    await ehr.referrals.start()
    await ehr.erx.start()
    site = web.TCPSite(runner, host, fhir_port, ssl_context=ssl_context)
    await site.start()
    actual_mllp = server.sockets[0].getsockname()[1]
    actual_fhir = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context is not None else "http"
    ready({"service": "ehr", "host": host, "mllp_port": actual_mllp, "fhir_port": actual_fhir,
           "fhir_base": f"{scheme}://{host}:{actual_fhir}/fhir", "tls": ssl_context is not None,
           "mutual_tls": ssl_context is not None and ssl_context.verify_mode == ssl.CERT_REQUIRED,
           "token_required": bool(require_token), "defects": sorted(ehr.defects), "pid": os.getpid()})

    await run_until_stopped(stop, parent)
    server.close()
    await ehr.medications.close()
    await ehr.prescribing.close()
    await ehr.referrals.close()
    await ehr.erx.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genrep.sim.ehr", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mllp-port", type=int, default=0)
    ap.add_argument("--fhir-port", type=int, default=0)
    ap.add_argument("--defect", action="append", default=[],
                    help=f"switch on a defect (repeatable): {', '.join(sorted(DEFECTS))}")
    ap.add_argument("--max-message-bytes", type=int, default=None)
    ap.add_argument("--nll-url", default=None, help="NLL FHIR base URL the medication module reads from")
    ap.add_argument("--nll-timeout", type=float, default=3.0, help="bound for one NLL request, seconds")
    ap.add_argument("--multum-url", default=None, help="Multum load balancer base URL (interaction checks)")
    ap.add_argument("--multum-timeout", type=float, default=4.0, help="bound for one interaction check, seconds")
    ap.add_argument("--tls-cert", default=None, help="PEM server certificate: MLLP and FHIR speak TLS")
    ap.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert (unencrypted)")
    ap.add_argument("--tls-client-ca", default=None,
                    help="PEM CA: require a client certificate it signed (mutual TLS) on MLLP and FHIR")
    ap.add_argument("--nll-ca-file", default=None, help="PEM CA that signed the NLL simulator's certificate")
    ap.add_argument("--nll-client-cert", default=None, help="client certificate for NLL (mutual TLS)")
    ap.add_argument("--nll-client-key", default=None, help="key of --nll-client-cert (unencrypted)")
    ap.add_argument("--user", action="append", default=[], metavar="ID=ROLE",
                    help="a user of the EHR and its role (contracts/access.yaml), repeatable; requests naming a "
                         "user are checked against the access matrix")
    ap.add_argument("--referral-url", default=None, help="the referral receiver's base URL (referrals to other units)")
    ap.add_argument("--referral-timeout", type=float, default=REFERRAL_TIMEOUT_S,
                    help="bound for one referral delivery, seconds")
    ap.add_argument("--erx-url", default=None, help="the e-prescription receiver's base URL")
    ap.add_argument("--erx-cards", default=None, help="folder of the prescribers' virtual cards (sim.erx_cards)")
    ap.add_argument("--erx-timeout", type=float, default=ERX_TIMEOUT_S,
                    help="bound for one e-prescription send, seconds (the receiver answers in milliseconds; "
                         "as --referral-timeout)")
    ap.add_argument("--node", default="node-a", help="this node's name in its configuration fingerprint")
    ap.add_argument("--require-token-env", default=None, metavar="NAME",
                    help="the FHIR API requires 'Authorization: Bearer <value of env var NAME>' (401 otherwise)")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(json.dumps({"error": "the virtual EHR listens on loopback only"}), flush=True)
        return 2
    if args.max_message_bytes is not None and args.max_message_bytes <= 0:
        print(json.dumps({"error": f"--max-message-bytes must be positive, got {args.max_message_bytes}"}),
              flush=True)
        return 2
    from genrep.config.contracts import load_radiology
    env_defects = [d for d in os.environ.get("GENREP_DEFECTS", "").split(",") if d.strip()]
    try:  # a bad defect name or contract is reported on the ready line, not as a bare traceback
        contract = load_radiology()
        defects = parse_defects(args.defect + env_defects)
        from genrep.config.access import load_access
        access_contract = load_access()
        access = AccessControl(access_contract, parse_users(args.user, access_contract), defects)
        from genrep.sim.erx_cards import load_card_store
        erx_cards = load_card_store(args.erx_cards) if args.erx_cards else {}
    except (ConfigError, ValueError, OSError, KeyError) as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    try:  # TLS and token settings are checked before anything listens, and reported on the ready line
        ssl_context, nll_ssl_context, token = _security_options(args)
    except (ConfigError, OSError, ssl.SSLError) as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    ehr = VirtualEHR(defects=defects,
                     max_message_bytes=args.max_message_bytes or contract.max_message_bytes,
                     accession_field=contract.accession_field,
                     accession_max_length=contract.accession_max_length,
                     nll_url=args.nll_url, nll_timeout=args.nll_timeout,
                     multum_url=args.multum_url, multum_timeout=args.multum_timeout, access=access,
                     referral_url=args.referral_url, referral_timeout=args.referral_timeout,
                     erx_cards=erx_cards, erx_url=args.erx_url, erx_timeout=args.erx_timeout)
    ehr.fingerprint.node = args.node
    # The store holds every message received; the cyclic GC would rescan that growing heap again
    # and again (about 9 % of the server's CPU in ``genrep bench mllp``). Everything loaded so far
    # is frozen out of collection, and young collections run less often. Nothing here builds
    # reference cycles per message, so memory is freed by reference counting as before.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        asyncio.run(serve(args.host, args.mllp_port, args.fhir_port, ehr,
                          lambda info: print(json.dumps(info), flush=True), ssl_context=ssl_context,
                          nll_ssl_context=nll_ssl_context, require_token=token))
    except OSError as exc:  # e.g. the port is taken
        print(json.dumps({"error": f"cannot listen on {args.host}: {exc}"}), flush=True)
        return 2
    return 0


def _security_options(args):
    """(server SSLContext or None, NLL client SSLContext or None, required token or None) from the
    command line of ``main``."""
    from genrep.transport.tls import peer_client_context, server_context
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
    ctx = server_context(args.tls_cert, args.tls_key, client_ca_file=args.tls_client_ca) if args.tls_cert else None
    nll_ctx = None
    if args.nll_ca_file:
        nll_ctx = peer_client_context(args.nll_ca_file, args.nll_client_cert, args.nll_client_key)
    elif args.nll_client_cert:
        raise ConfigError("--nll-client-cert needs --nll-ca-file")
    token = None
    if args.require_token_env:
        token = os.environ.get(args.require_token_env, "").strip()
        if not token:
            raise ConfigError(f"--require-token-env {args.require_token_env}: that environment variable is "
                              "not set or empty")
    return ctx, nll_ctx, token


if __name__ == "__main__":
    sys.exit(main())
