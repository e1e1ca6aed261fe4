"""Minimal HTTP/1.1 server answering every GET with one small FHIR searchset Bundle: the trivial
endpoint of the load-harness benchmark (``genrep.benchmarks.load``).

Persistent connections (keep-alive, pipelining tolerated), one fixed ``200`` answer with
``Content-Type: application/fhir+json`` and a Bundle whose ``total`` is 1, so the harness's FHIR
user passes its checks. Anything but a bodiless GET is answered ``405`` and the connection closed.
Deliberately standalone (no genrep imports, an ``asyncio.Protocol``, no framework) so the server
costs as little CPU as possible and the comparison measures the client side.

Run ``python bench/trivial_fhir.py --port 0``: prints ``FHIR trivial listening on host:port``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

BUNDLE = json.dumps({
    "resourceType": "Bundle", "type": "searchset", "total": 1,
    "entry": [{"fullUrl": "http://127.0.0.1/DiagnosticReport/bench-1",
               "resource": {"resourceType": "DiagnosticReport", "id": "bench-1", "status": "final",
                            "code": {"text": "Benchmark report"}},
               "search": {"mode": "match"}}],
}, separators=(",", ":")).encode()
OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: "
      + str(len(BUNDLE)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + BUNDLE)
NOT_ALLOWED = (b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\n"
               b"Connection: close\r\n\r\n")
END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024


class _Http(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        out = []
        while (i := buf.find(END)) >= 0:
            head, buf = buf[:i], buf[i + 4:]
            lower = head.lower()
            has_body = ((b"\r\ncontent-length:" in lower and b"\r\ncontent-length: 0\r" not in lower + b"\r")
                        or b"\r\ntransfer-encoding:" in lower)
            if not head.startswith(b"GET ") or has_body:
                out.append(NOT_ALLOWED)
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            out.append(OK)
        if len(buf) > MAX_HEAD:
            self.transport.close()
            return
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))


async def serve(host: str, port: int) -> asyncio.base_events.Server:
    """Start listening and return the server (port 0 picks a free port)."""
    return await asyncio.get_running_loop().create_server(_Http, host, port)


def main() -> None:
    ap = argparse.ArgumentParser(description="Minimal HTTP server answering every GET with a FHIR searchset Bundle.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()

    async def forever() -> None:
        server = await serve(args.host, args.port)
        print(f"FHIR trivial listening on {args.host}:{server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
