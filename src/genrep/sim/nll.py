"""The NLL simulator (Nationella läkemedelslistan): FHIR R4 MedicationRequest, releases N and N+1.

Why: after a 2024 update on the NLL side the EHR showed NLL text with broken line breaks and lost
words. The simulator serves the same prescriptions in the shape of release N or N+1
(``genrep.sim.nll_releases`` holds every difference), switchable at run time, so the harness can
replay one corpus across both releases and detect provider-side contract drift
(``genrep.integrations.nll_drift``). Like the virtual EHR it is its own asyncio process on loopback, talked to over
real sockets, and prints one JSON "ready" line.

Admin API (JSON, no FHIR headers): ``PUT/DELETE /admin/patients/{personnummer}``,
``POST /admin/release``, ``POST /admin/fault``, ``POST /admin/reset``, ``GET /admin/health``.
FHIR API (base ``/fhir``; every request needs ``x-request-id`` (UUID) and ``x-user-agent``):
``MedicationRequest?patient.identifier=``, ``MedicationRequest/{id}``,
``MedicationRequest/{id}/$patient-dosage-directions``, ``$ping``, ``metadata``,
``StructureDefinition/NLLMedicationRequest``.
Fault modes apply to FHIR requests only (admin always answers): unavailable (503), hang (never
answers until the mode changes), slow (+delay s), malformed (truncated JSON), wrong-content-type
(text/html), oversized (the real body padded with JSON whitespace to over 10 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import uuid

from aiohttp import web

from genrep.sim.lifecycle import install_stop_signals, run_until_stopped, wait_or_stop

from genrep.sim import nll_releases as rel

FHIR_JSON = "application/fhir+json"
FAULT_MODES = ("none", "unavailable", "hang", "slow", "malformed", "wrong-content-type", "oversized")
MAX_DELAY = 600.0
OVERSIZE_BYTES = 10 * 1024 * 1024 + 512 * 1024
PNR_RE = re.compile(r"\d{12}")
FHIR_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
RX_STRINGS = ("patient_instruction", "dosage_text", "administration_instruction", "note")
RX_KEYS = {"id", "medication", "version", "status", "modifier_extension", "patient_instruction_absent",
           "dosage_steps", *RX_STRINGS}
STEP_KEYS = {"text", "patient_instruction", "days", "when", "frequency"}
MAX_STEPS = 20
REQUIRED_HEADERS = ("x-request-id", "x-user-agent")


class BadRequest(ValueError):
    pass


def _object(value, where: str, allowed: set[str]) -> dict:
    """``value`` as an object with no key outside ``allowed``; BadRequest naming the first problem."""
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise BadRequest(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    return value


def _required_text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{where} must be a non-empty string")
    return value


def _positive_int(value, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"{where} must be a positive integer or null")
    return value


def validate_steps(steps, where: str) -> list[dict] | None:
    """``dosage_steps`` -> clean steps (each ``text`` required; ``patient_instruction``,
    ``days``, ``when``, ``frequency`` optional); None when not given."""
    if steps is None:
        return None
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise BadRequest(f"{where} must be a list of 1 to {MAX_STEPS} steps")
    out = []
    for n, step in enumerate(steps):
        at = f"{where}[{n}]"
        _object(step, at, STEP_KEYS)
        text = _required_text(step.get("text"), f"{at}.text")
        instruction = step.get("patient_instruction")
        if instruction is not None and not isinstance(instruction, str):
            raise BadRequest(f"{at}.patient_instruction must be a string or null")
        when = step.get("when")
        if when is not None and when not in rel.EVENT_TIMINGS:
            raise BadRequest(f"{at}.when must be null or one of {', '.join(rel.EVENT_TIMINGS)}")
        out.append({"text": text, "patient_instruction": instruction or None, "when": when,
                    "days": _positive_int(step.get("days"), f"{at}.days"),
                    "frequency": _positive_int(step.get("frequency"), f"{at}.frequency")})
    return out


def validate_prescriptions(body) -> list[dict]:
    """The admin PUT body -> a clean prescription list; BadRequest naming the first problem."""
    if not isinstance(body, dict) or set(body) != {"prescriptions"}:
        raise BadRequest('body must be a JSON object {"prescriptions": [...]}')
    items = body["prescriptions"]
    if not isinstance(items, list):
        raise BadRequest("prescriptions must be a list")
    out: list[dict] = []
    seen: set[str] = set()
    for i, rx in enumerate(items):
        where = f"prescriptions[{i}]"
        _object(rx, where, RX_KEYS)
        for key in ("id", "medication"):
            _required_text(rx.get(key), f"{where}.{key}")
        if not FHIR_ID_RE.fullmatch(rx["id"]):
            raise BadRequest(f"{where}.id {rx['id']!r} is not a FHIR id (A-Z a-z 0-9 - ., at most 64)")
        if rx["id"] in seen:
            raise BadRequest(f"{where}.id {rx['id']!r} appears twice")
        seen.add(rx["id"])
        for key in RX_STRINGS:
            v = rx.get(key)
            if v is not None and not isinstance(v, str):
                raise BadRequest(f"{where}.{key} must be a string or null")
        version = rx.get("version", 1)
        if version is None:
            version = 1
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise BadRequest(f"{where}.version must be a positive integer")
        status = rx.get("status") or "active"
        if status not in rel.STATUSES:
            raise BadRequest(f"{where}.status must be one of {', '.join(rel.STATUSES)}")
        modifier = rx.get("modifier_extension", False)
        if modifier is None:
            modifier = False
        if not isinstance(modifier, bool):
            raise BadRequest(f"{where}.modifier_extension must be true or false")
        absent = rx.get("patient_instruction_absent")
        if absent is not None and absent not in rel.ABSENT_REASONS:
            raise BadRequest(f"{where}.patient_instruction_absent must be null, "
                             f"{' or '.join(map(repr, rel.ABSENT_REASONS))}")
        # FHIR strings cannot be empty: "" means "not there" (the element is left out)
        clean = {k: rx.get(k) or None for k in RX_STRINGS}
        if absent is not None and clean["patient_instruction"] is not None:
            raise BadRequest(f"{where}: patient_instruction and patient_instruction_absent exclude each other")
        steps = validate_steps(rx.get("dosage_steps"), f"{where}.dosage_steps")
        if steps is not None:
            given = [k for k in ("dosage_text", "patient_instruction") if clean[k] is not None]
            given += ["patient_instruction_absent"] if absent is not None else []
            if given:
                raise BadRequest(f"{where}: dosage_steps gives every step its own text and instruction; "
                                 f"drop {', '.join(given)}")
        clean.update(id=rx["id"], medication=rx["medication"], version=version, status=status,
                     modifier_extension=modifier, patient_instruction_absent=absent, dosage_steps=steps)
        out.append(clean)
    return out


class NLLSimulator:
    def __init__(self, *, release: str = "N"):
        self.start_release = rel.check_release(release)
        self.stop_event: asyncio.Event | None = None
        self.reset()

    def reset(self) -> None:
        self.patients: dict[str, list[dict]] = {}
        # rx id -> (patient, prescription). Ids are per patient in the model; when two patients use
        # the same id, read-by-id gives the most recently PUT one (search is always per patient).
        self.by_id: dict[str, tuple[str, dict]] = {}
        self.release = self.start_release
        self.requests = 0
        self.set_fault("none", 0.0)

    def set_fault(self, mode: str, delay: float) -> None:
        old = getattr(self, "_fault_changed", None)
        self.fault, self.delay = mode, delay
        self._fault_changed = asyncio.Event()
        if old is not None:
            old.set()  # wake requests hanging under the previous mode

    # -- plumbing -----------------------------------------------------------------------------
    @staticmethod
    def outcome(status: int, code: str, text: str, severity: str = "error") -> web.Response:
        body = {"resourceType": "OperationOutcome",
                "issue": [{"severity": severity, "code": code, "diagnostics": text}]}
        return web.json_response(body, status=status, content_type=FHIR_JSON)

    @staticmethod
    def fhir(body: dict, status: int = 200) -> web.Response:
        return web.json_response(body, status=status, content_type=FHIR_JSON)

    @staticmethod
    def error(status: int, text: str) -> web.Response:
        return web.json_response({"error": text}, status=status)

    async def _wait(self, event: asyncio.Event, timeout: float | None) -> None:
        await wait_or_stop(event, self.stop_event, timeout)

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        try:
            if not request.path.startswith("/fhir"):
                return await handler(request)
            return await self.fhir_request(request, handler)
        except web.HTTPException as exc:
            if request.path.startswith("/fhir"):
                return self.outcome(exc.status, "processing", exc.reason or "HTTP error")
            return self.error(exc.status, exc.reason or "HTTP error")
        except Exception as exc:  # never crash, never a bare 500 page: say what happened
            text = f"internal error: {type(exc).__name__}: {exc}"
            if request.path.startswith("/fhir"):
                return self.outcome(500, "exception", text)
            return self.error(500, text)

    async def fhir_request(self, request: web.Request, handler) -> web.StreamResponse:
        self.requests += 1
        while self.fault == "hang" and not (self.stop_event and self.stop_event.is_set()):
            await self._wait(self._fault_changed, None)
        if self.fault == "slow" and self.delay > 0:
            await self._wait(asyncio.Event(), self.delay)
        mode = self.fault
        if mode == "unavailable":
            return self.outcome(503, "transient", "NLL is temporarily unavailable (simulated fault)")
        rid = request.headers.get("x-request-id", "")
        for name in REQUIRED_HEADERS:
            if not request.headers.get(name, "").strip():
                return self.outcome(400, "required", f"missing required header {name}")
        try:
            uuid.UUID(rid.strip())
        except ValueError:
            return self.outcome(400, "value", f"header x-request-id must be a UUID, got {rid[:60]!r}")
        resp = await handler(request)
        resp.headers["x-request-id"] = rid
        if mode == "malformed" and isinstance(resp, web.Response) and resp.body:
            body = bytes(resp.body)
            return web.Response(status=resp.status, body=body[: max(1, len(body) // 2)],
                                content_type=FHIR_JSON, headers={"x-request-id": rid})
        if mode == "wrong-content-type":
            return web.Response(status=200, text="<html><body><h1>NLL</h1><p>Service page</p></body></html>",
                                content_type="text/html", headers={"x-request-id": rid})
        if mode == "oversized" and isinstance(resp, web.Response) and resp.body:
            body = bytes(resp.body)
            pad = b" " * max(0, OVERSIZE_BYTES - len(body))
            return web.Response(status=resp.status, body=body + pad, content_type=FHIR_JSON,
                                headers={"x-request-id": rid})
        return resp

    def routes(self, app: web.Application) -> None:
        app.router.add_put("/admin/patients/{identifier}", self.put_patient)
        app.router.add_delete("/admin/patients/{identifier}", self.delete_patient)
        app.router.add_post("/admin/release", self.set_release)
        app.router.add_post("/admin/fault", self.fault_mode)
        app.router.add_post("/admin/reset", self.reset_handler)
        app.router.add_get("/admin/health", self.health)
        app.router.add_get("/fhir/metadata", self.metadata)
        app.router.add_route("GET", "/fhir/$ping", self.ping)
        app.router.add_route("POST", "/fhir/$ping", self.ping)
        app.router.add_get("/fhir/MedicationRequest", self.search)
        app.router.add_get("/fhir/MedicationRequest/{id}", self.read)
        app.router.add_get("/fhir/MedicationRequest/{id}/$patient-dosage-directions", self.directions)
        app.router.add_get("/fhir/StructureDefinition/{id}", self.structure)
        app.router.add_route("*", "/fhir", self.not_found)
        app.router.add_route("*", "/fhir/{tail:.*}", self.not_found)

    # -- admin --------------------------------------------------------------------------------
    @staticmethod
    async def _json_body(request: web.Request):
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest("body too large (limit 1 MiB)") from None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("body is nested too deeply") from None

    @staticmethod
    def _identifier(request: web.Request) -> str:
        ident = request.match_info["identifier"]
        if not PNR_RE.fullmatch(ident):
            raise BadRequest(f"patient identifier must be a 12-digit personnummer, got {ident[:40]!r}")
        return ident

    async def put_patient(self, request: web.Request) -> web.Response:
        try:
            ident = self._identifier(request)
            prescriptions = validate_prescriptions(await self._json_body(request))
        except BadRequest as exc:
            return self.error(400, str(exc))
        self._drop(ident)
        self.patients[ident] = prescriptions
        for rx in prescriptions:
            self.by_id[rx["id"]] = (ident, rx)
        return web.json_response({"patient": ident, "prescriptions": len(prescriptions)})

    def _drop(self, ident: str) -> bool:
        old = self.patients.pop(ident, None)
        for rx in old or ():
            if self.by_id.get(rx["id"], ("",))[0] == ident:
                del self.by_id[rx["id"]]
        return old is not None

    async def delete_patient(self, request: web.Request) -> web.Response:
        try:
            ident = self._identifier(request)
        except BadRequest as exc:
            return self.error(400, str(exc))
        return web.json_response({"patient": ident, "deleted": self._drop(ident)})

    async def set_release(self, request: web.Request) -> web.Response:
        try:
            body = await self._json_body(request)
        except BadRequest as exc:
            return self.error(400, str(exc))
        release = body.get("release") if isinstance(body, dict) else None
        if not isinstance(release, str) or release not in rel.RELEASES:
            return self.error(400, f'body must be {{"release": ...}} with one of {", ".join(rel.RELEASES)}')
        self.release = release
        return web.json_response({"release": release})

    async def fault_mode(self, request: web.Request) -> web.Response:
        try:
            body = await self._json_body(request)
        except BadRequest as exc:
            return self.error(400, str(exc))
        if not isinstance(body, dict):
            return self.error(400, 'body must be {"mode": ..., "delay": seconds}')
        mode, delay = body.get("mode"), body.get("delay", 0)
        if not isinstance(mode, str) or mode not in FAULT_MODES:
            return self.error(400, f"mode must be one of {', '.join(FAULT_MODES)}")
        if delay is None:
            delay = 0
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= MAX_DELAY:
            return self.error(400, f"delay must be a number of seconds between 0 and {MAX_DELAY:g}")
        if mode == "slow" and delay <= 0:
            return self.error(400, "mode slow needs a delay > 0")
        self.set_fault(mode, float(delay))
        return web.json_response({"fault": mode, "delay": float(delay)})

    async def reset_handler(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"status": "reset", "release": self.release})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "release": self.release, "fault": self.fault,
                                  "delay": self.delay, "pid": os.getpid(), "requests": self.requests,
                                  "patients": len(self.patients)})

    # -- FHIR ---------------------------------------------------------------------------------
    async def metadata(self, request: web.Request) -> web.Response:
        return self.fhir(rel.capability_statement(self.release))

    async def ping(self, request: web.Request) -> web.Response:
        return self.outcome(200, "informational", "pong", severity="information")

    async def search(self, request: web.Request) -> web.Response:
        q = request.query
        unknown = sorted(set(q) - {"patient.identifier", "_count", "_format"})
        if unknown:
            return self.outcome(400, "not-supported", f"unsupported search parameter(s): {', '.join(unknown)}")
        ident = q.get("patient.identifier", "").strip()
        if not ident:
            return self.outcome(400, "required", "search MedicationRequest needs patient.identifier=[system|]value")
        system, _, value = ident.rpartition("|")
        if system and system != rel.PNR_SYSTEM:
            return self.fhir(rel.searchset([], value, self.release))
        prescriptions = self.patients.get(value, [])
        return self.fhir(rel.searchset(prescriptions, value, self.release))

    def _find(self, request: web.Request):
        rid = request.match_info["id"]
        found = self.by_id.get(rid)
        if found is None:
            return None, self.outcome(404, "not-found", f"MedicationRequest/{rid} not found")
        return found, None

    async def read(self, request: web.Request) -> web.Response:
        found, err = self._find(request)
        if err is not None:
            return err
        patient, rx = found
        return self.fhir(rel.medication_request(rx, patient, self.release))

    async def directions(self, request: web.Request) -> web.Response:
        found, err = self._find(request)
        if err is not None:
            return err
        return self.fhir(rel.dosage_directions(found[1], self.release))

    async def structure(self, request: web.Request) -> web.Response:
        sid = request.match_info["id"]
        if sid != rel.PROFILE_NAME:
            return self.outcome(404, "not-found", f"StructureDefinition/{sid} not found")
        return self.fhir(rel.structure_definition(self.release))

    async def not_found(self, request: web.Request) -> web.Response:
        return self.outcome(404, "not-supported", f"{request.method} {request.path} is not supported")


async def serve(host: str, port: int, sim: NLLSimulator, ready, *, ssl_context=None) -> None:
    """Serve FHIR and admin on one port until stopped; over TLS with ``ssl_context`` (which may
    require a client certificate)."""
    # The parent is read before announcing ready (see genrep.sim.ehr.serve).
    stop, parent = install_stop_signals()
    sim.stop_event = stop
    sim.set_fault(sim.fault, sim.delay)  # events bound to this loop
    app = web.Application(client_max_size=2 ** 20, middlewares=[sim.middleware])
    sim.routes(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    actual = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context is not None else "http"
    ready({"service": "nll", "host": host, "port": actual, "fhir_base": f"{scheme}://{host}:{actual}/fhir",
           "tls": ssl_context is not None, "release": sim.release, "pid": os.getpid()})

    await run_until_stopped(stop, parent)
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genrep.sim.nll", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--release", default="N", help=f"release served at start: {', '.join(rel.RELEASES)}")
    ap.add_argument("--tls-cert", default=None, help="PEM server certificate: serve over TLS")
    ap.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert (unencrypted)")
    ap.add_argument("--tls-client-ca", default=None, help="PEM CA: require a client certificate it signed")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(json.dumps({"error": "the NLL simulator listens on loopback only"}), flush=True)
        return 2
    if args.release not in rel.RELEASES:
        print(json.dumps({"error": f"unknown release {args.release!r} (known: {', '.join(rel.RELEASES)})"}),
              flush=True)
        return 2
    if not 0 <= args.port <= 65535:
        print(json.dumps({"error": f"--port must be 0..65535, got {args.port}"}), flush=True)
        return 2
    ssl_context = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:
        if not (args.tls_cert and args.tls_key):
            print(json.dumps({"error": "--tls-cert and --tls-key go together (and --tls-client-ca needs both)"}),
                  flush=True)
            return 2
        from genrep.transport.tls import server_context
        try:
            ssl_context = server_context(args.tls_cert, args.tls_key, client_ca_file=args.tls_client_ca)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            print(json.dumps({"error": f"cannot load the TLS certificate: {exc}"}), flush=True)
            return 2
    sim = NLLSimulator(release=args.release)
    try:
        asyncio.run(serve(args.host, args.port, sim, lambda info: print(json.dumps(info), flush=True),
                          ssl_context=ssl_context))
    except OSError as exc:  # e.g. the port is taken
        print(json.dumps({"error": f"cannot listen on {args.host}:{args.port}: {exc}"}), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
