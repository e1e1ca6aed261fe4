"""What every simulator process does around its servers: stop on SIGTERM/SIGINT, and stop when the
harness that started it disappears (no orphan outlives a run, even after SIGKILL of the parent).

A harness that is SIGKILLed cannot remove its throw-away TLS folder (private keys), so when the
parent disappears, a simulator removes the folder named by ``GENREP_TLS_DIR`` in its environment,
if that folder says (``owner.json``) it belongs to that parent. Its own SIGTERM/SIGINT (a parent
that is alive and stopping it) removes nothing: the parent does that.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal

TLS_DIR_ENV = "GENREP_TLS_DIR"
#: the harness that started a simulator through the fork launcher (``genrep.sim.launcher``): the
#: simulator's parent is the launcher, which ends when the harness does; the TLS folder names the harness
HARNESS_ENV = "GENREP_SIM_HARNESS_PID"
#: the process that started this simulator (its launcher, or the harness that ran ``python -m``), as
#: its starter named it: a simulator whose starter died between the fork and its first look at its
#: parent would otherwise take init (or a subreaper) for its parent and outlive the run
PARENT_ENV = "GENREP_SIM_PARENT_PID"
TLS_DIR_PREFIX = "genrep-tls-"
OWNER_FILE = "owner.json"


def install_stop_signals() -> tuple[asyncio.Event, int]:
    """A stop event set by SIGTERM/SIGINT, and the parent pid read NOW: before the ready line, since
    a parent that dies after it would already be replaced by init (an orphan forever). The starter's
    own word (``GENREP_SIM_PARENT_PID``, taken out of the environment: never inherited further) wins
    over ``getppid()``: a starter that died before this line leaves a parent that is not it, and the
    watch stops at once."""
    parent = os.getppid()
    named = os.environ.pop(PARENT_ENV, "")
    if named.isdigit():
        parent = int(named)
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
    if os.getppid() != parent:
        harness = os.environ.get(HARNESS_ENV, "")
        remove_orphaned_tls_dir(int(harness) if harness.isdigit() else parent)


def remove_orphaned_tls_dir(parent: int) -> bool:
    """Remove the TLS folder named by ``GENREP_TLS_DIR`` if its owner file names ``parent`` (the
    harness that is gone); True if it was removed. Anything else there is left alone."""
    path = os.environ.get(TLS_DIR_ENV, "")
    if not path or not os.path.basename(os.path.normpath(path)).startswith(TLS_DIR_PREFIX):
        return False
    try:
        with open(os.path.join(path, OWNER_FILE), encoding="utf-8") as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return False
    if not isinstance(owner, dict) or owner.get("pid") != parent:
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


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
