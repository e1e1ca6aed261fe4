"""A listener the harness owns in front of another one, so that a listener restart can be injected
where the service cannot restart its listener alone.

The virtual EHR keeps its clinical state in its process: restarting the process would lose every
stored report, which is not what restarting a real EHR's inbound listener does (its store is a
database). So for the virtual environment, ``genrep.faults.sim`` puts a ``ListenerFront`` between
the senders and the EHR's radiology MLLP port, and a ``restarted`` fault does to the senders what a
listener restart does: every open connection is dropped at once (the sender's side reset; a message
half-written or an ACK not yet relayed is lost on the way, never a stored one), new connections are
refused for ``down_s`` seconds, then it listens again. "Refused" here is accepted and reset at
once: the port stays bound to us, so no other process on the machine can take it while it is down.

Bytes are relayed untouched (TLS passes through end to end). One asyncio loop in a daemon thread
serves every connection; ``stop`` closes everything. Loopback only.
"""

from __future__ import annotations

import asyncio
import threading
import time

from genrep.errors import GenrepError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_CONNECT_TIMEOUT = 5.0
_CHUNK = 1 << 16


class ListenerFront:
    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1"):
        if host not in LOOPBACK or upstream_host not in LOOPBACK:
            raise GenrepError(f"a listener front runs on loopback only (asked for {host} -> {upstream_host})")
        self.host = host
        self.upstream = (upstream_host, int(upstream_port))
        self.port = 0
        self.restarts = 0
        self.dropped = 0          # connections dropped by restarts
        self.refused = 0          # connections refused while down
        self._down = False
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.base_events.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="genrep-listener-front", daemon=True)

    def __repr__(self) -> str:
        return f"ListenerFront({self.host}:{self.port} -> {self.upstream[0]}:{self.upstream[1]})"

    def _call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> int:
        """Listen (a free port on loopback); returns the port senders should use."""
        if not self._thread.is_alive():
            self._thread.start()
            self._call(self._listen())
        return self.port

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), _CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            writer.transport.abort()  # the listener behind us is not there: the sender sees a reset
            return
        pair = (writer, up_writer)
        self._conns.add(pair)
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            self._conns.discard(pair)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()  # one side gone: the other side of the relay goes too

    async def _drop(self) -> int:
        self._down = True
        pairs = list(self._conns)
        for sender, upstream in pairs:
            sender.transport.abort()  # the sender's connection is reset, as by a listener that went away
            upstream.close()
        self._conns.clear()
        return len(pairs)

    async def _up(self) -> None:
        self._down = False

    def restart(self, down_s: float) -> None:
        """Drop every connection, refuse new ones for ``down_s`` seconds, listen again; returns once
        it listens again."""
        if self._server is None:
            raise GenrepError("the listener front is not started")
        self.dropped += self._call(self._drop())
        self.restarts += 1
        try:
            time.sleep(max(0.0, down_s))
        finally:
            self._call(self._up())

    def up(self) -> None:
        """Listen again now (a restart interrupted half-way)."""
        if self._server is not None and self._thread.is_alive():
            self._call(self._up())

    @property
    def down(self) -> bool:
        return self._down

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            await self._drop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self._call(close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
            if not self._thread.is_alive():
                self._loop.close()
