"""Minimal asyncio MLLP responder for the load-harness benchmark (``genrep.benchmarks.load``).

Answers every complete frame (``0x0B ... 0x1C 0x0D``) with a canned ``AA`` ACK whose MSA-2 quotes
the message's MSH-10, so the harness's real ACK check (``genrep.load.workload.ack_problem``)
passes. Persistent connections; frames split across reads or coalesced in one read are handled.
Nothing is parsed beyond the MSH segment's first ten fields. Deliberately standalone (no genrep
imports, an ``asyncio.Protocol``) so it costs as little CPU as possible, like ``mllp_echo.py``.

Run ``python bench/mllp_ack.py --port 0``: prints ``MLLP ack listening on host:port``.
"""

from __future__ import annotations

import argparse
import asyncio

VT, END = b"\x0b", b"\x1c\x0d"
ACK_HEAD = b"\x0bMSH|^~\\&|BENCH|BENCH|GENREP|GENREP|20250101000000||ACK^R01^ACK|"
MAX_FRAME = 16 * 1024 * 1024


def control_id(payload: bytes) -> bytes:
    """MSH-10 of an HL7 v2 message (b"" when there is no MSH segment)."""
    if not payload.startswith(b"MSH") or len(payload) < 4:
        return b""
    sep = payload[3:4]
    end = payload.find(b"\r")
    fields = payload[:end if end >= 0 else len(payload)].split(sep, 10)
    return fields[9] if len(fields) > 9 else b""


def ack_for(payload: bytes) -> bytes:
    cid = control_id(payload)
    return ACK_HEAD + b"A" + cid[:19] + b"|P|2.5\rMSA|AA|" + cid + b"\r" + END


class _Mllp(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out = []
        start = 0
        while (j := buf.find(END, start)) >= 0:
            frame = buf[start:j]
            i = frame.rfind(VT)                 # bytes before the (last) VT are not a frame
            if i >= 0:
                out.append(ack_for(frame[i + 1:]))
            start = j + 2
        self.buf = buf[start:]
        if len(self.buf) > MAX_FRAME:
            self.transport.close()
            return
        if out:
            self.transport.write(b"".join(out))


async def serve(host: str, port: int) -> asyncio.base_events.Server:
    """Start listening and return the server (port 0 picks a free port)."""
    return await asyncio.get_running_loop().create_server(_Mllp, host, port)


def main() -> None:
    ap = argparse.ArgumentParser(description="Minimal MLLP server answering every frame with an AA ACK.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2575)
    args = ap.parse_args()

    async def forever() -> None:
        server = await serve(args.host, args.port)
        print(f"MLLP ack listening on {args.host}:{server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
