"""Minimal raw asyncio MLLP server: the benchmark baseline.

Answers every complete frame (``0x0B ... 0x1C 0x0D``) with one fixed small ACK frame, on a
persistent connection. Deliberately standalone (no genrep imports) so it measures the socket path
only. Run ``python bench/mllp_echo.py --port 2575`` or use ``start_in_thread()`` from a test.
"""

from __future__ import annotations

import argparse
import asyncio
import threading

END = b"\x1c\x0d"
ACK = b"\x0bMSH|^~\\&|ECHO|ECHO|GENREP|GENREP|20250101000000||ACK|ECHO1|P|2.5\rMSA|AA|ECHO1\r" + END


async def serve(host: str, port: int) -> asyncio.Server:
    """Start listening and return the running ``asyncio.Server`` (port 0 picks a free port)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = b""
        try:
            while data := await reader.read(65536):    # a single read is not a frame
                buf += data
                n = buf.count(END)
                if n:
                    buf = buf[buf.rfind(END) + 2:]
                    writer.write(ACK * n)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


def start_in_thread(host: str = "127.0.0.1", port: int = 0):
    """Run the server on its own event loop in a daemon thread. Returns ``(port, stop_fn)``."""
    loop = asyncio.new_event_loop()
    started, box = threading.Event(), {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(serve(host, port))
        except BaseException as e:                      # e.g. port in use: report to the caller
            box["error"] = e
            started.set()
            loop.close()
            return
        box["port"] = server.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(loop)
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=run, name="mllp-echo", daemon=True)
    thread.start()
    started.wait()
    if "error" in box:
        raise box["error"]

    def stop() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    return box["port"], stop


def main() -> None:
    ap = argparse.ArgumentParser(description="Minimal MLLP server answering every frame with a fixed ACK.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2575)
    args = ap.parse_args()

    async def forever() -> None:
        server = await serve(args.host, args.port)
        print(f"MLLP echo listening on {args.host}:{server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
