"""The Multum load balancer: failover, canary health checks and failback in front of Multum servers.

Why: the agreed 2024 design had a failover function moving traffic to a second Multum server; the
day before go-live it was found missing, the region went live on one server with manual
switch-over, and load balancing was never activated. This process is the piece that was missing,
and with ``--no-failover`` / ``--policy primary-backup`` it also replays what was actually live.

``POST /interactions`` (the body of ``genrep.sim.multum``) is forwarded to a healthy backend
(round-robin, or primary-backup: the first healthy one in order). Each attempt is bounded by
``--timeout``; a refused connection, a timeout, a 5xx, a body that is not a valid answer or a
connection closed mid-response marks the backend unhealthy at once and the request is retried on
the next healthy backend (at most ``--retries`` extra attempts). A check answering
``{"status": "error"}`` is passed through (the answer is labelled partial by the server). When no
server answers: 503 ``{"error": "interaction check not performed: ..."}`` -- never "no
interactions". Every answer carries ``X-Multum-Server``; when the backends' content versions
differ also ``X-Content-Versions-Differ: true``.

Health: every ``--probe-interval`` s each backend gets the canary check (a known interacting pair
from the drug knowledge fixture); healthy only if the answer is valid and contains the canary
interaction. A backend that is down comes back only after ``--failback-after`` consecutive good
probes. ``GET /lb/status`` shows backends, content versions and down/up events.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import time
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from genrep.sim.lifecycle import install_stop_signals, run_until_stopped

from genrep.sim.multum import KNOWLEDGE_PATH, LOOPBACK, NAME_RE, Knowledge, KnowledgeError, canary_ok

POLICIES = ("round-robin", "primary-backup")
MAX_EVENTS = 1000
NOT_PERFORMED = "interaction check not performed"


class Backend:
    def __init__(self, name: str, url: str):
        self.name, self.url = name, url.rstrip("/")
        self.healthy = True
        self.consecutive_ok = 0
        self.requests = 0
        self.probes = 0
        self.content_version: str | None = None
        self.last_error: str | None = None

    def status(self) -> dict:
        return {"name": self.name, "url": self.url, "healthy": self.healthy,
                "consecutive_ok": self.consecutive_ok, "requests": self.requests, "probes": self.probes,
                "content_version": self.content_version, "last_error": self.last_error}


class AttemptFailed(Exception):
    pass


class LoadBalancer:
    def __init__(self, backends: list[Backend], *, policy: str, probe_interval: float, failback_after: int,
                 timeout: float, retries: int, failover: bool, failback: bool, canary: list[str]):
        self.backends = backends
        self.policy, self.probe_interval, self.failback_after = policy, probe_interval, failback_after
        self.timeout, self.retries = timeout, retries
        self.failover, self.failback = failover, failback
        self.canary = canary
        self.canary_body = json.dumps({"drugs": canary, "checks": ["drug-drug"]}).encode()
        self.events: collections.deque = collections.deque(maxlen=MAX_EVENTS)
        self.rr = 0
        self.session: aiohttp.ClientSession | None = None

    # -- state ----------------------------------------------------------------------------------
    def mark_down(self, b: Backend, reason: str) -> None:
        b.consecutive_ok = 0
        b.last_error = reason
        if b.healthy:
            b.healthy = False
            self.events.append({"t": time.time(), "backend": b.name, "event": "down", "reason": reason})

    def mark_good_probe(self, b: Backend) -> None:
        b.consecutive_ok += 1
        if not b.healthy and self.failback and b.consecutive_ok >= self.failback_after:
            b.healthy = True
            b.last_error = None
            self.events.append({"t": time.time(), "backend": b.name, "event": "up",
                                "reason": f"{b.consecutive_ok} consecutive good canary probes"})

    def versions_differ(self) -> bool:
        return len({b.content_version for b in self.backends if b.content_version is not None}) > 1

    def status(self) -> dict:
        return {"policy": self.policy, "failover": self.failover, "failback": self.failback,
                "failback_after": self.failback_after, "probe_interval": self.probe_interval,
                "timeout": self.timeout, "retries": self.retries,
                "backends": [b.status() for b in self.backends],
                "content_versions_differ": self.versions_differ(), "events": list(self.events)}

    # -- talking to a backend -------------------------------------------------------------------
    async def call(self, b: Backend, body: bytes) -> tuple[int, bytes, dict | None]:
        """One bounded attempt: (status, raw body, parsed JSON or None). AttemptFailed on any failure."""
        assert self.session is not None
        try:
            async with asyncio.timeout(self.timeout):
                async with self.session.post(f"{b.url}/interactions", data=body,
                                             headers={"Content-Type": "application/json"}) as resp:
                    raw = await resp.read()
                    status = resp.status
        except TimeoutError:
            raise AttemptFailed(f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            raise AttemptFailed(f"connection failed: {exc.os_error.strerror or exc}") from None
        except aiohttp.ClientPayloadError:
            raise AttemptFailed("connection closed mid-response") from None
        except aiohttp.ServerDisconnectedError:
            raise AttemptFailed("connection closed before an answer") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise AttemptFailed(f"{type(exc).__name__}: {exc}") from None
        if status >= 500:
            try:
                detail = json.loads(raw).get("error", "")
            except (ValueError, AttributeError):
                detail = ""
            raise AttemptFailed(f"HTTP {status}" + (f": {detail}" if detail else ""))
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            if status >= 400:
                return status, raw, None
            raise AttemptFailed("malformed answer (not JSON)") from None
        if status == 200 and (not isinstance(parsed, dict) or not isinstance(parsed.get("checks"), dict)):
            raise AttemptFailed("malformed answer (no checks object)")
        return status, raw, parsed

    async def probe(self, b: Backend) -> None:
        b.probes += 1
        try:
            status, _raw, answer = await self.call(b, self.canary_body)
        except AttemptFailed as exc:
            self.mark_down(b, f"canary probe: {exc}")
            return
        if status != 200:
            self.mark_down(b, f"canary probe: HTTP {status}")
            return
        good, why = canary_ok(answer, self.canary)
        if not good:
            self.mark_down(b, f"canary probe: {why}")
            return
        version = answer.get("content_version")
        b.content_version = version if isinstance(version, str) else None
        self.mark_good_probe(b)

    async def probe_loop(self, b: Backend) -> None:
        """One loop per backend: a hanging backend delays only its own probes (each bounded).

        The pause is a full interval after each probe ends (no catch-up after a slow probe), so
        the N good probes needed for failback span at least (N-1) intervals."""
        while True:
            await asyncio.sleep(self.probe_interval)  # the first round ran before "ready"
            try:
                await self.probe(b)
            except Exception as exc:  # a probe bug must not end health checking
                self.mark_down(b, f"canary probe: internal error {type(exc).__name__}: {exc}")

    # -- routing --------------------------------------------------------------------------------
    def candidates(self) -> list[Backend]:
        if not self.failover:
            return self.backends[:1]  # the 2024 state: one server, manual switch-over only
        healthy = [b for b in self.backends if b.healthy]
        if self.policy == "round-robin" and healthy:
            start = self.rr % len(healthy)
            self.rr += 1
            healthy = healthy[start:] + healthy[:start]
        return healthy

    async def interactions(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large (limit 1 MiB)"}, status=400)
        try:
            if not isinstance(json.loads(body.decode("utf-8")), dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return web.json_response({"error": f"body must be a JSON object: {exc}"}, status=400)
        tried: list[str] = []
        candidates = self.candidates()
        if not candidates:
            down = "; ".join(f"{b.name}: {b.last_error or 'down'}" for b in self.backends)
            return web.json_response({"error": f"{NOT_PERFORMED}: no Multum server answered "
                                               f"(no healthy server: {down})", "attempts": []}, status=503)
        max_attempts = 1 + self.retries if self.failover else 1
        for b in candidates[:max_attempts]:
            b.requests += 1
            try:
                status, raw, parsed = await self.call(b, body)
            except AttemptFailed as exc:
                self.mark_down(b, str(exc))
                tried.append(f"{b.name}: {exc}")
                continue
            if isinstance(parsed, dict) and isinstance(parsed.get("content_version"), str):
                b.content_version = parsed["content_version"]
            headers = {"X-Multum-Server": b.name, "X-Multum-Attempts": str(len(tried) + 1)}
            if self.versions_differ():
                headers["X-Content-Versions-Differ"] = "true"
            if parsed is None:  # a 4xx without JSON: say so in JSON
                return web.json_response({"error": f"Multum server {b.name} answered HTTP {status}"},
                                         status=status, headers=headers)
            return web.Response(status=status, body=raw, content_type="application/json", headers=headers)
        if len(candidates) > max_attempts:
            tried.append(f"retry budget of {self.retries} used up")
        elif not self.failover:
            tried.append("failover not configured")
        return web.json_response({"error": f"{NOT_PERFORMED}: no Multum server answered ({'; '.join(tried)})",
                                  "attempts": tried}, status=503)

    async def status_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.status())

    async def health_handler(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid()})

    async def not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"error": f"{request.method} {request.path} is not supported"}, status=404)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2 ** 20)
        app.router.add_post("/interactions", self.interactions)
        app.router.add_get("/lb/status", self.status_handler)
        app.router.add_get("/lb/health", self.health_handler)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app


async def serve(host: str, port: int, lb: LoadBalancer, ready) -> None:
    # The parent is read before announcing ready (see genrep.sim.ehr.serve).
    stop, parent = install_stop_signals()
    # No keep-alive: every attempt opens a fresh connection, so a server that stopped is seen as
    # refused at once instead of through a stale pooled connection.
    connector = aiohttp.TCPConnector(force_close=True, limit=200)
    lb.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=lb.timeout))
    runner = web.AppRunner(lb.app(), access_log=None, shutdown_timeout=0.5)
    probes: list[asyncio.Task] = []
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        actual = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        # one probe round before "ready", so the first requests see real health
        await asyncio.gather(*(lb.probe(b) for b in lb.backends), return_exceptions=True)
        probes = [asyncio.create_task(lb.probe_loop(b)) for b in lb.backends]
        ready({"service": "multum-lb", "host": host, "port": actual, "base": f"http://{host}:{actual}",
               "pid": os.getpid(), "policy": lb.policy, "failover": lb.failover, "failback": lb.failback,
               "backends": [{"name": b.name, "url": b.url, "healthy": b.healthy} for b in lb.backends]})

        await run_until_stopped(stop, parent)
    finally:
        for t in probes:
            t.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        await runner.cleanup()
        await lb.session.close()


def parse_backend(spec: str) -> Backend:
    name, sep, url = spec.partition("=")
    if not sep or not NAME_RE.fullmatch(name):
        raise ValueError(f"--backend must be NAME=http://127.0.0.1:PORT, got {spec!r}")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or not port or parts.path.strip("/") \
            or parts.query:
        raise ValueError(f"--backend {name}: URL must be http://127.0.0.1:PORT (loopback), got {url!r}")
    return Backend(name, url)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genrep.sim.multum_lb", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--backend", action="append", default=[], metavar="NAME=URL",
                    help="a Multum server, in priority order (repeat)")
    ap.add_argument("--policy", default="round-robin", help=" or ".join(POLICIES))
    ap.add_argument("--probe-interval", type=float, default=0.2)
    ap.add_argument("--failback-after", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1.0, help="per attempt, connect + answer")
    ap.add_argument("--retries", type=int, default=1, help="extra attempts on other servers")
    ap.add_argument("--no-failover", action="store_true", help="the 2024 state: only the first backend")
    ap.add_argument("--no-failback", action="store_true", help="a backend that went down stays down")
    ap.add_argument("--knowledge", default=str(KNOWLEDGE_PATH), help="drug knowledge JSON (for the canary)")
    args = ap.parse_args(argv)

    def fail(text: str) -> int:
        print(json.dumps({"error": text}), flush=True)
        return 2

    if args.host not in LOOPBACK:
        return fail("the Multum load balancer listens on loopback only")
    if not 0 <= args.port <= 65535:
        return fail(f"--port must be 0..65535, got {args.port}")
    if args.policy not in POLICIES:
        return fail(f"--policy must be one of {', '.join(POLICIES)}, got {args.policy!r}")
    if not args.backend:
        return fail("at least one --backend NAME=URL is needed")
    try:
        backends = [parse_backend(s) for s in args.backend]
    except ValueError as exc:
        return fail(str(exc))
    if len({b.name for b in backends}) != len(backends):
        return fail("backend names must be unique")
    if not 0.01 <= args.probe_interval <= 600:
        return fail(f"--probe-interval must be 0.01..600 s, got {args.probe_interval}")
    if not 1 <= args.failback_after <= 1000:
        return fail(f"--failback-after must be 1..1000, got {args.failback_after}")
    if not 0.01 <= args.timeout <= 600:
        return fail(f"--timeout must be 0.01..600 s, got {args.timeout}")
    if not 0 <= args.retries <= 100:
        return fail(f"--retries must be 0..100, got {args.retries}")
    try:
        canary = Knowledge.load(args.knowledge).canary
    except KnowledgeError as exc:
        return fail(str(exc))
    lb = LoadBalancer(backends, policy=args.policy, probe_interval=args.probe_interval,
                      failback_after=args.failback_after, timeout=args.timeout, retries=args.retries,
                      failover=not args.no_failover, failback=not args.no_failback, canary=canary)
    try:
        asyncio.run(serve(args.host, args.port, lb, lambda info: print(json.dumps(info), flush=True)))
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
