"""What every simulator process does around its servers: stop on SIGTERM/SIGINT, and stop when the
harness that started it disappears (no orphan outlives a run, even after SIGKILL of the parent)."""

from __future__ import annotations

import asyncio
import os
import signal


def install_stop_signals() -> tuple[asyncio.Event, int]:
    """A stop event set by SIGTERM/SIGINT, and the parent pid read NOW: before the ready line, since
    a parent that dies after it would already be replaced by init (an orphan forever)."""
    parent = os.getppid()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop, parent


async def run_until_stopped(stop: asyncio.Event, parent: int, poll: float = 0.5) -> None:
    """Wait until ``stop`` is set or the parent process is gone."""
    async def watch_parent() -> None:
        while not stop.is_set():
            if os.getppid() != parent:
                stop.set()
            await asyncio.sleep(poll)

    watcher = asyncio.create_task(watch_parent())
    try:
        await stop.wait()
    finally:
        watcher.cancel()


async def wait_or_stop(event: asyncio.Event, stop: asyncio.Event | None, timeout: float | None) -> None:
    """Wait for ``event`` (or shutdown) at most ``timeout`` s, without blocking other requests: how a
    simulator holds a request in a "hang" or "slow" fault and still stops promptly."""
    waiters = [asyncio.ensure_future(event.wait())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
