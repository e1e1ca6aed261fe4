"""The part the faultable HTTP simulators share (the Multum server, the referral receiver and, through
it, the e-prescription receiver): an aiohttp service port that the ``stopped`` fault really closes
(connection refused) and re-opens on the same port, beside an admin port that always answers; run on
loopback until SIGTERM/SIGINT or the parent is gone; and the command line that starts them.

Its own module because this logic is one and the same in each of those simulators (it was copied
between them): how a fault switch closes and re-opens the service port, the serve/ready/cleanup
loop and the port checks. What differs (routes, fault modes and their effects, the ready line's
fields, extra flags) stays in each simulator's module.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Coroutine

from aiohttp import web

from genrep.sim.lifecycle import install_stop_signals, run_until_stopped

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TwoPortServer:
    """A simulator with a service port and an admin port. A subclass gives ``service_app``,
    ``admin_app`` and ``mode`` (``"stopped"``: the service port is closed); ``serve_ports`` creates
    the lock and events on the running loop."""

    host: str
    port: int
    mode: str
    stop_event: asyncio.Event | None
    service_runner: web.AppRunner | None
    _switch: asyncio.Lock | None
    _fault_changed: asyncio.Event | None

    def service_app(self) -> web.Application:
        raise NotImplementedError

    def admin_app(self) -> web.Application:
        raise NotImplementedError

    async def _fault_switched(self, was_stopped: bool) -> None:
        """After the mode changed (under ``_switch``): wake the requests held by "hang"; close or
        re-open the service port as the new mode needs."""
        old, self._fault_changed = self._fault_changed, asyncio.Event()
        if old is not None:
            old.set()
        if self.mode == "stopped" and not was_stopped:
            await self.close_service()
        elif self.mode != "stopped" and was_stopped:
            await self.open_service()

    async def open_service(self) -> None:
        runner = web.AppRunner(self.service_app(), access_log=None, shutdown_timeout=0.5,
                               handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.service_runner = runner

    async def close_service(self) -> None:
        runner, self.service_runner = self.service_runner, None
        if runner is not None:
            await runner.cleanup()  # closes the listening socket and every open connection

    def _stopping(self) -> bool:
        return self.stop_event is not None and self.stop_event.is_set()

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        """Close the connection without an answer (a stopped server)."""
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing can be sent on an aborted connection

    async def serve_ports(self, host: str, port: int, admin_port: int, announce: Callable[[int], None]) -> None:
        """Listen on the admin port, then the service port; ``announce(admin port)`` prints the
        ready line; run until stopped, then close both."""
        # The parent is read before announcing ready (see genrep.sim.ehr.serve).
        stop, parent = install_stop_signals()
        self.stop_event = stop
        self._switch = asyncio.Lock()
        self._fault_changed = asyncio.Event()
        self.host, self.port = host, port
        admin = web.AppRunner(self.admin_app(), access_log=None, shutdown_timeout=0.5)
        await admin.setup()
        try:
            site = web.TCPSite(admin, host, admin_port)
            await site.start()
            actual_admin = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            await self.open_service()
            announce(actual_admin)
            await run_until_stopped(stop, parent)
            if self._fault_changed is not None:
                self._fault_changed.set()
            await self.close_service()
        finally:
            await admin.cleanup()


# -- the command line ---------------------------------------------------------------------------------

def two_port_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The parser with ``--host``, ``--port`` and ``--admin-port``; the simulator adds its own flags."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="service port (0: any free port)")
    ap.add_argument("--admin-port", type=int, default=0, help="admin port (0: any free port)")
    return ap


def fail(text: str) -> int:
    """Report a start-up error as the ready line's ``{"error"}`` (``SimProcess`` raises it); exit code 2."""
    print(json.dumps({"error": text}), flush=True)
    return 2


def address_problem(args: argparse.Namespace, who: str) -> str | None:
    """What is wrong with ``--host``, ``--port`` and ``--admin-port`` (None: nothing); ``who`` names
    the simulator ("the Multum simulator")."""
    if args.host not in LOOPBACK:
        return f"{who} listens on loopback only"
    for flag, value in (("--port", args.port), ("--admin-port", args.admin_port)):
        if not 0 <= value <= 65535:
            return f"{flag} must be 0..65535, got {value}"
    if args.port and args.port == args.admin_port:
        return "--port and --admin-port must differ"
    return None


def run_serving(serving: Coroutine, args: argparse.Namespace) -> int:
    """Run ``serving`` until it returns (the simulator was stopped); 0, or 2 when a port cannot be
    listened on."""
    try:
        asyncio.run(serving)
    except OSError as exc:  # e.g. a port is taken
        return fail(f"cannot listen on {args.host}:{args.port}/{args.admin_port}: {exc}")
    return 0
