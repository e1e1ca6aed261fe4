"""A simulator's watch on the process that started it (``genrep.sim.lifecycle``): the starter's own
word (``GENREP_SIM_PARENT_PID``) wins over ``getppid()``, so a simulator whose starter died between
the fork and its first look at its parent stops at once instead of taking init for its parent and
outliving the run. In this process: no simulator is started, only the watch is run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from genrep.sim import lifecycle


def _gone_pid() -> int:
    """The pid of a process that has ended and been reaped (a starter that is gone)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def _watch(seconds: float) -> bool:
    """True if the watch ended by itself within ``seconds``."""
    stop, parent = lifecycle.install_stop_signals()
    try:
        await asyncio.wait_for(lifecycle.run_until_stopped(stop, parent, poll=0.02), timeout=seconds)
        return True
    except asyncio.TimeoutError:
        return False


def test_a_starter_gone_before_the_first_look_stops_the_watch_at_once(monkeypatch):
    monkeypatch.delenv(lifecycle.TLS_DIR_ENV, raising=False)
    monkeypatch.setenv(lifecycle.PARENT_ENV, str(_gone_pid()))
    assert asyncio.run(_watch(5.0)), "the watch took a parent that is not its starter for its own"
    assert lifecycle.PARENT_ENV not in os.environ  # taken out: never inherited by what it starts


def test_the_starter_that_is_the_parent_keeps_it_running(monkeypatch):
    monkeypatch.delenv(lifecycle.TLS_DIR_ENV, raising=False)
    monkeypatch.setenv(lifecycle.PARENT_ENV, str(os.getppid()))
    assert not asyncio.run(_watch(0.3))


def test_without_the_starters_word_the_parent_is_getppid(monkeypatch):
    monkeypatch.delenv(lifecycle.TLS_DIR_ENV, raising=False)
    monkeypatch.delenv(lifecycle.PARENT_ENV, raising=False)
    assert not asyncio.run(_watch(0.3))
