"""The referral receiver simulator: the receiving units' side of a referral sent from the EHR.

How a real receiving unit's system takes a referral is not public [U]; this simulator speaks a small
HTTP JSON API of our own [A] (the EHR's adapter for it is ``genrep.sim.ehr_referrals``; the harness
never calls the service port itself):

- ``POST /referrals`` ``{"referral", "unit", "patient", "reason"}``:
  200 ``{"outcome": "received", "receipt"}`` for a test unit that accepts (contracts/referrals.yaml),
  422 ``{"outcome": "rejected", "reason"}`` for one that rejects (with the unit's reason), and
  404 ``{"outcome": "unit-unknown"}`` for a unit identifier it does not know.
- ``GET /health``.

Two listening ports, as the Multum simulator has (``genrep.sim.two_port``), so that a "stopped"
receiver really refuses connections while its admin port still answers:
``POST /admin/fault`` ``{"mode": none|stopped|hang|error503}``, ``POST /admin/reset`` (mode none,
nothing received), ``GET /admin/received`` (``?referral=ID``: what arrived, for the harness's check that
"delivered" is true), ``GET /admin/health``. ``killed`` is a SIGKILL from the fault driver; a restart
comes back on the same ports (``genrep.sim.process.same_port_args``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from aiohttp import web

from genrep.sim.lifecycle import wait_or_stop
from genrep.sim.two_port import LOOPBACK  # noqa: F401 - importable from here as before
from genrep.sim.two_port import TwoPortServer, address_problem, fail, run_serving, two_port_parser

FAULT_MODES = ("none", "stopped", "hang", "error503")
RECEIVED_MAX = 10_000


class ReferralReceiver(TwoPortServer):
    #: what ``GET /admin/received?KEY=ID`` filters on (the key of the item's id in a request body)
    RECEIVED_KEY = "referral"

    def __init__(self, units: dict[str, tuple[str, str]]):
        """``units``: unit id -> (answer, reject reason)."""
        self.units = units
        self.mode = "none"
        self.received: list[dict] = []
        self.requests = 0
        self.host, self.port = "127.0.0.1", 0
        self.stop_event: asyncio.Event | None = None
        self.service_runner: web.AppRunner | None = None
        self._switch: asyncio.Lock | None = None
        self._fault_changed: asyncio.Event | None = None

    async def set_mode(self, mode: str) -> None:
        async with self._switch:
            was_stopped = self.mode == "stopped"
            self.mode = mode
            await self._fault_switched(was_stopped)

    # -- service port -----------------------------------------------------------------------------
    def service_app(self) -> web.Application:
        app = web.Application(client_max_size=2 ** 20, middlewares=[self.middleware])
        app.router.add_post("/referrals", self.take)
        app.router.add_get("/health", self.health)
        return app

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        self.requests += 1
        while self.mode == "hang" and not self._stopping():
            await wait_or_stop(self._fault_changed, self.stop_event, None)
        if self.mode == "stopped" or self._stopping():
            return self._drop(request)
        if self.mode == "error503":
            return web.json_response({"error": "the referral receiver is temporarily unavailable (simulated "
                                               "fault)"}, status=503)
        return await handler(request)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def take(self, request: web.Request) -> web.Response:
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large (limit 1 MiB)"}, status=413)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body.get(k)
                                                 for k in ("referral", "unit")):
            return web.json_response({"error": 'body must be {"referral": ID, "unit": UNIT-ID, ...}'}, status=400)
        unit = self.units.get(body["unit"])
        if unit is None:
            return web.json_response({"outcome": "unit-unknown",
                                      "reason": f"no unit {body['unit']} at this receiver"}, status=404)
        answer, reason = unit
        if answer == "reject":
            return web.json_response({"outcome": "rejected", "reason": reason}, status=422)
        receipt = f"rcpt-{len(self.received) + 1}"
        if len(self.received) >= RECEIVED_MAX:
            self.received.pop(0)
        self.received.append({"referral": body["referral"], "unit": body["unit"], "receipt": receipt,
                              "at": time.time()})
        return web.json_response({"outcome": "received", "receipt": receipt})

    # -- admin port -------------------------------------------------------------------------------
    def admin_app(self) -> web.Application:
        app = web.Application(client_max_size=2 ** 16)
        app.router.add_post("/admin/fault", self.fault_handler)
        app.router.add_post("/admin/reset", self.reset_handler)
        app.router.add_get("/admin/received", self.received_handler)
        app.router.add_get("/admin/health", self.admin_health)
        return app

    async def fault_handler(self, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        if not isinstance(body, dict) or set(body) - {"mode"} or body.get("mode") not in FAULT_MODES:
            return web.json_response({"error": f'body must be {{"mode": one of {", ".join(FAULT_MODES)}}}'},
                                     status=400)
        try:
            await self.set_mode(body["mode"])
        except OSError as exc:
            return web.json_response({"error": f"cannot re-open the service port {self.port}: {exc}"}, status=500)
        return web.json_response({"status": "ok", "mode": self.mode, "port": self.port})

    async def reset_handler(self, request: web.Request) -> web.Response:
        try:
            await self.set_mode("none")
        except OSError as exc:
            return web.json_response({"error": f"cannot re-open the service port {self.port}: {exc}"}, status=500)
        self.received.clear()
        self.requests = 0
        return web.json_response({"status": "ok", "port": self.port})

    async def received_handler(self, request: web.Request) -> web.Response:
        wanted = request.query.get(self.RECEIVED_KEY)
        items = [r for r in self.received if wanted is None or r[self.RECEIVED_KEY] == wanted]
        return web.json_response({"received": items, "mode": self.mode, "requests": self.requests})

    async def admin_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid(), "mode": self.mode})


async def serve(host: str, port: int, admin_port: int, receiver: ReferralReceiver, ready) -> None:
    await receiver.serve_ports(host, port, admin_port, lambda actual_admin: ready({
        "service": "referral-receiver", "host": host, "port": receiver.port, "admin_port": actual_admin,
        "base": f"http://{host}:{receiver.port}", "admin": f"http://{host}:{actual_admin}/admin",
        "units": len(receiver.units), "pid": os.getpid()}))


def main(argv: list[str] | None = None) -> int:
    ap = two_port_parser("python -m genrep.sim.referral_receiver", __doc__.splitlines()[0])
    ap.add_argument("--contract", default=None, help="referral contract (default contracts/referrals.yaml)")
    args = ap.parse_args(argv)
    problem = address_problem(args, "the referral receiver")
    if problem:
        return fail(problem)
    from genrep.config.referrals import load_referrals
    from genrep.errors import ConfigError
    try:
        contract = load_referrals(args.contract)
    except ConfigError as exc:
        return fail(str(exc))
    receiver = ReferralReceiver({u.id: (u.answer, u.reject_reason) for u in contract.units})
    return run_serving(serve(args.host, args.port, args.admin_port, receiver,
                             lambda info: print(json.dumps(info), flush=True)), args)


if __name__ == "__main__":
    sys.exit(main())
