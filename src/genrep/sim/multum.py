"""The Multum simulator: one drug-knowledge server answering interaction checks over HTTP JSON.

Why: the 2024 go-live started 90 minutes late because of the Multum servers, and the agreed
failover between the two servers was missing; the region went live on one server with manual
switch-over. The real Multum protocol is not public, so this process speaks a small HTTP JSON API
of our own; every wire detail lives in this module (and the load balancer in
``genrep.sim.multum_lb`` that forwards it).

Two listening ports, so that a "stopped" server really refuses connections while it can still be
controlled:

Service (``--port``):
  ``POST /interactions`` body ``{"drugs": [...], "checks": ["drug-drug", "duplication"]}``
  (``checks`` defaults to both) -> ``{"server", "content_version", "drugs", "unknown_drugs",
  "checks": {"drug-drug": {"status": "ok", "interactions": [...]},
  "duplication": {"status": "ok", "duplicates": [...]}}}``; a bad body -> 400 ``{"error"}``.
  ``GET /health`` -> ``{"status": "ok", "server", "content_version"}`` (liveness only).
Admin (``--admin-port``, always answers):
  ``POST /admin/fault`` ``{"mode", "delay", "version", "check"}``, ``POST /admin/reset``,
  ``GET /admin/stats``, ``GET /admin/health``.

Fault modes (service requests only): none, stopped (service socket closed: connection refused;
re-opened on the same port when the mode changes), hang (accepted, never answered until the mode
changes), slow (+delay s), error503, version (answers with another content version), partial (one
check answers ``{"status": "error"}``), malformed (200 with truncated JSON), close-mid-response
(headers and half the body, then the connection is closed).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import sys
import time
from itertools import combinations
from pathlib import Path

from aiohttp import web

from genrep.paths import FIXTURES_DIR

from genrep.sim.lifecycle import wait_or_stop
from genrep.sim.two_port import LOOPBACK  # noqa: F401 - genrep.sim.multum_lb imports it from here
from genrep.sim.two_port import TwoPortServer, address_problem, fail, run_serving, two_port_parser

KNOWLEDGE_PATH = FIXTURES_DIR / "multum" / "knowledge.json"
CHECKS = ("drug-drug", "duplication")
SEVERITIES = ("contraindicated", "major", "moderate", "minor")
FAULT_MODES = ("none", "stopped", "hang", "slow", "error503", "version", "partial", "malformed",
               "close-mid-response")
MAX_DELAY = 600.0
MAX_DRUGS = 200
TIMELINE_MAX = 10_000
NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
VERSION_RE = re.compile(r"[A-Za-z0-9._-]{1,40}")


class BadRequest(ValueError):
    pass


class KnowledgeError(ValueError):
    pass


# -- knowledge ---------------------------------------------------------------------------------

class Knowledge:
    """The drug knowledge fixture, checked on load: every drug named anywhere is a known drug."""

    def __init__(self, data: dict):
        if not isinstance(data, dict):
            raise KnowledgeError("knowledge must be a JSON object")
        drugs = data.get("drugs")
        if not isinstance(drugs, list) or not all(isinstance(d, str) and d == d.strip().lower() and d
                                                  for d in drugs):
            raise KnowledgeError("knowledge.drugs must be a list of lower-case generic names")
        self.drugs = frozenset(drugs)
        self.interactions: dict[frozenset, dict] = {}
        for i, item in enumerate(data.get("interactions") or []):
            pair = item.get("drugs") if isinstance(item, dict) else None
            if not isinstance(pair, list) or len(pair) != 2 or len(set(pair)) != 2:
                raise KnowledgeError(f"interactions[{i}].drugs must be two different drugs")
            self._known(pair, f"interactions[{i}]")
            if item.get("severity") not in SEVERITIES:
                raise KnowledgeError(f"interactions[{i}].severity must be one of {', '.join(SEVERITIES)}")
            if not isinstance(item.get("description"), str) or not item["description"].strip():
                raise KnowledgeError(f"interactions[{i}].description must be a non-empty string")
            key = frozenset(pair)
            if key in self.interactions:
                raise KnowledgeError(f"interactions[{i}]: {pair[0]} + {pair[1]} appears twice")
            self.interactions[key] = {"drugs": list(pair), "severity": item["severity"],
                                      "description": item["description"]}
        self.groups: list[tuple[str, list[str]]] = []
        for i, item in enumerate(data.get("duplication_groups") or []):
            if not isinstance(item, dict) or not isinstance(item.get("group"), str) \
                    or not isinstance(item.get("drugs"), list) or len(item["drugs"]) < 2:
                raise KnowledgeError(f"duplication_groups[{i}] must be {{group, drugs: [2 or more]}}")
            self._known(item["drugs"], f"duplication_groups[{i}]")
            self.groups.append((item["group"], list(item["drugs"])))
        canary = data.get("canary")
        if not isinstance(canary, list) or len(canary) != 2 or frozenset(canary) not in self.interactions:
            raise KnowledgeError("canary must be a pair of drugs with a known interaction")
        self.canary: list[str] = list(canary)

    def _known(self, names, where: str) -> None:
        unknown = [d for d in names if d not in self.drugs]
        if unknown:
            raise KnowledgeError(f"{where}: {', '.join(map(str, unknown))} not in knowledge.drugs")

    @classmethod
    def load(cls, path: Path | str = KNOWLEDGE_PATH) -> "Knowledge":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KnowledgeError(f"cannot read drug knowledge {path}: {exc}") from None
        return cls(data)

    def drug_drug(self, drugs: list[str]) -> list[dict]:
        out = []
        for a, b in combinations(drugs, 2):
            hit = self.interactions.get(frozenset((a, b)))
            if hit is not None:
                out.append(dict(hit, drugs=list(hit["drugs"])))
        return out

    def duplication(self, drugs: list[str]) -> list[dict]:
        present = set(drugs)
        out = []
        for group, members in self.groups:
            found = [d for d in members if d in present]
            if len(found) >= 2:
                out.append({"drugs": found, "group": group})
        return out


def canary_ok(answer, canary: list[str]) -> tuple[bool, str]:
    """Is ``answer`` (a parsed /interactions answer to the canary pair) a valid, complete check?"""
    if not isinstance(answer, dict) or not isinstance(answer.get("checks"), dict):
        return False, "canary answer has no checks object"
    dd = answer["checks"].get("drug-drug")
    if not isinstance(dd, dict):
        return False, "canary answer has no drug-drug check"
    if dd.get("status") != "ok":
        return False, f"drug-drug check status {dd.get('status')!r}: {dd.get('error', '')}".rstrip(": ")
    want = set(canary)
    for hit in dd.get("interactions") or []:
        if isinstance(hit, dict) and isinstance(hit.get("drugs"), list) and set(hit["drugs"]) == want:
            return True, ""
    return False, f"canary interaction {' + '.join(canary)} missing from the answer"


def parse_request(body) -> tuple[list[str], list[str]]:
    """The /interactions body -> (drugs normalised, de-duplicated in order; checks)."""
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object {"drugs": [...], "checks": [...]}')
    unknown = sorted(set(body) - {"drugs", "checks"})
    if unknown:
        raise BadRequest(f"unknown key(s) {', '.join(unknown)} (allowed: drugs, checks)")
    drugs = body.get("drugs")
    if not isinstance(drugs, list) or not drugs:
        raise BadRequest("drugs must be a non-empty list of drug names")
    if len(drugs) > MAX_DRUGS:
        raise BadRequest(f"at most {MAX_DRUGS} drugs per check")
    names: list[str] = []
    for i, d in enumerate(drugs):
        if not isinstance(d, str) or not d.strip():
            raise BadRequest(f"drugs[{i}] must be a non-empty string")
        n = " ".join(d.split()).lower()
        if n not in names:
            names.append(n)
    checks = body.get("checks", list(CHECKS))
    if not isinstance(checks, list) or not checks:
        raise BadRequest(f"checks must be a non-empty list of {', '.join(CHECKS)}")
    for c in checks:
        if c not in CHECKS:
            raise BadRequest(f"unknown check {c!r} (known: {', '.join(CHECKS)})")
    return names, [c for c in CHECKS if c in checks]


# -- the server --------------------------------------------------------------------------------

class MultumServer(TwoPortServer):
    def __init__(self, *, name: str, content_version: str, knowledge: Knowledge):
        self.name, self.start_version, self.knowledge = name, content_version, knowledge
        self.stop_event: asyncio.Event | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.service_runner: web.AppRunner | None = None
        self._switch: asyncio.Lock | None = None  # created on the loop (see serve)
        self._fault_changed: asyncio.Event | None = None
        self.fault = {"mode": "none", "delay": 0.0, "version": None, "check": None}
        self.clear_counters()

    def clear_counters(self) -> None:
        self.requests = 0
        self.timeline: collections.deque = collections.deque(maxlen=TIMELINE_MAX)

    @property
    def mode(self) -> str:
        return self.fault["mode"]

    @property
    def content_version(self) -> str:
        if self.mode == "version" and self.fault["version"]:
            return self.fault["version"]
        return self.start_version

    async def set_fault(self, fault: dict) -> None:
        """Switch mode; wake hanging requests; close or re-open the service port as needed."""
        async with self._switch:
            was_stopped = self.mode == "stopped"
            self.fault = fault
            await self._fault_switched(was_stopped)

    # -- service port ---------------------------------------------------------------------------
    def service_app(self) -> web.Application:
        app = web.Application(client_max_size=2 ** 20, middlewares=[self.middleware])
        app.router.add_post("/interactions", self.interactions)
        app.router.add_get("/health", self.health)
        return app

    async def _wait(self, event: asyncio.Event, timeout: float | None) -> None:
        await wait_or_stop(event, self.stop_event, timeout)

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        kind = {"/interactions": "interactions", "/health": "health"}.get(request.path)
        if kind is None:
            return web.json_response({"error": f"{request.method} {request.path} is not supported"},
                                     status=404)
        self.requests += 1
        self.timeline.append([time.time(), kind])
        while self.mode == "hang" and not self._stopping():
            await self._wait(self._fault_changed, None)
        if self.mode == "slow" and self.fault["delay"] > 0:
            await self._wait(asyncio.Event(), self.fault["delay"])
        mode = self.mode
        if mode == "stopped" or self._stopping():
            return self._drop(request)
        if mode == "error503":
            return web.json_response({"error": f"Multum server {self.name} is temporarily unavailable "
                                               "(simulated fault)"}, status=503)
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            resp = web.json_response({"error": exc.reason or "HTTP error"}, status=exc.status)
        except Exception as exc:  # never a bare 500 page
            resp = web.json_response({"error": f"internal error: {type(exc).__name__}: {exc}"}, status=500)
        resp.headers["X-Multum-Server"] = self.name
        if mode not in ("malformed", "close-mid-response") or not isinstance(resp, web.Response) \
                or not resp.body:
            return resp
        body = bytes(resp.body)
        if mode == "malformed":
            return web.Response(status=resp.status, body=body[: max(1, len(body) // 2)],
                                content_type="application/json",
                                headers={"X-Multum-Server": self.name})
        # close-mid-response: promise the full length, send half, then close the connection
        stream = web.StreamResponse(status=resp.status, headers={"X-Multum-Server": self.name})
        stream.content_type = "application/json"
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(body[: max(1, len(body) // 2)])
        if request.transport is not None:
            request.transport.close()  # flushes what was written, then closes
        raise asyncio.CancelledError

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "server": self.name,
                                  "content_version": self.content_version})

    async def interactions(self, request: web.Request) -> web.Response:
        try:
            try:
                body = json.loads((await request.read()).decode("utf-8"))
            except web.HTTPRequestEntityTooLarge:
                raise BadRequest("body too large (limit 1 MiB)") from None
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise BadRequest(f"body is not JSON: {exc}") from None
            drugs, checks = parse_request(body)
        except BadRequest as exc:
            return web.json_response({"error": str(exc)}, status=400)
        known = [d for d in drugs if d in self.knowledge.drugs]
        results: dict[str, dict] = {}
        for check in checks:
            if self.mode == "partial" and self.fault["check"] == check:
                results[check] = {"status": "error",
                                  "error": f"{check} check failed on {self.name} (simulated fault)"}
            elif check == "drug-drug":
                results[check] = {"status": "ok", "interactions": self.knowledge.drug_drug(known)}
            else:
                results[check] = {"status": "ok", "duplicates": self.knowledge.duplication(known)}
        return web.json_response({"server": self.name, "content_version": self.content_version,
                                  "drugs": drugs, "unknown_drugs": [d for d in drugs if d not in known],
                                  "checks": results})

    # -- admin port -----------------------------------------------------------------------------
    def admin_app(self) -> web.Application:
        app = web.Application(client_max_size=2 ** 16)
        app.router.add_post("/admin/fault", self.fault_handler)
        app.router.add_post("/admin/reset", self.reset_handler)
        app.router.add_get("/admin/stats", self.stats)
        app.router.add_get("/admin/health", self.admin_health)
        return app

    @staticmethod
    def parse_fault(body) -> dict:
        if not isinstance(body, dict):
            raise BadRequest('body must be a JSON object {"mode": ...}')
        unknown = sorted(set(body) - {"mode", "delay", "version", "check"})
        if unknown:
            raise BadRequest(f"unknown key(s) {', '.join(unknown)} (allowed: mode, delay, version, check)")
        mode = body.get("mode")
        if mode not in FAULT_MODES:
            raise BadRequest(f"mode must be one of {', '.join(FAULT_MODES)}")
        delay = body.get("delay", 0.0)
        if delay is None:
            delay = 0.0
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY:
            raise BadRequest(f"delay must be a number of seconds 0..{MAX_DELAY:g}")
        if mode == "slow" and delay <= 0:
            raise BadRequest("mode slow needs a delay > 0")
        version = body.get("version")
        if mode == "version" and (not isinstance(version, str) or not VERSION_RE.fullmatch(version)):
            raise BadRequest("mode version needs a version string (letters, digits . _ -), e.g. 2024.10")
        check = body.get("check")
        if mode == "partial":
            check = "duplication" if check is None else check
            if check not in CHECKS:
                raise BadRequest(f"check must be one of {', '.join(CHECKS)}")
        return {"mode": mode, "delay": float(delay) if mode == "slow" else 0.0,
                "version": version if mode == "version" else None,
                "check": check if mode == "partial" else None}

    async def _admin_body(self, request: web.Request):
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest("body too large") from None
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BadRequest(f"body is not JSON: {exc}") from None

    async def fault_handler(self, request: web.Request) -> web.Response:
        try:
            fault = self.parse_fault(await self._admin_body(request))
        except BadRequest as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            await self.set_fault(fault)
        except OSError as exc:
            return web.json_response({"error": f"cannot re-open the service port {self.port}: {exc}"},
                                     status=500)
        return web.json_response({"status": "ok", "fault": self.fault, "port": self.port})

    async def reset_handler(self, request: web.Request) -> web.Response:
        try:
            await self.set_fault({"mode": "none", "delay": 0.0, "version": None, "check": None})
        except OSError as exc:
            return web.json_response({"error": f"cannot re-open the service port {self.port}: {exc}"},
                                     status=500)
        self.clear_counters()
        return web.json_response({"status": "ok", "port": self.port})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"name": self.name, "pid": os.getpid(), "mode": self.mode,
                                  "fault": self.fault, "content_version": self.content_version,
                                  "port": self.port, "requests": self.requests,
                                  "timeline": list(self.timeline)})

    async def admin_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid(), "name": self.name})


async def serve(host: str, port: int, admin_port: int, server: MultumServer, ready) -> None:
    await server.serve_ports(host, port, admin_port, lambda actual_admin: ready({
        "service": "multum", "name": server.name, "host": host, "port": server.port,
        "admin_port": actual_admin, "base": f"http://{host}:{server.port}",
        "admin": f"http://{host}:{actual_admin}/admin",
        "content_version": server.content_version, "pid": os.getpid()}))


def main(argv: list[str] | None = None) -> int:
    ap = two_port_parser("python -m genrep.sim.multum", __doc__.splitlines()[0])
    ap.add_argument("--name", default="multum-a")
    ap.add_argument("--content-version", default="2024.11")
    ap.add_argument("--knowledge", default=str(KNOWLEDGE_PATH), help="drug knowledge JSON")
    args = ap.parse_args(argv)
    problem = address_problem(args, "the Multum simulator")
    if problem:
        return fail(problem)
    if not NAME_RE.fullmatch(args.name):
        return fail(f"--name must be 1-64 of letters, digits . _ -, got {args.name!r}")
    if not VERSION_RE.fullmatch(args.content_version):
        return fail(f"--content-version must be 1-40 of letters, digits . _ -, got {args.content_version!r}")
    try:
        knowledge = Knowledge.load(args.knowledge)
    except KnowledgeError as exc:
        return fail(str(exc))
    server = MultumServer(name=args.name, content_version=args.content_version, knowledge=knowledge)
    return run_serving(serve(args.host, args.port, args.admin_port, server,
                             lambda info: print(json.dumps(info), flush=True)), args)


if __name__ == "__main__":
    sys.exit(main())
