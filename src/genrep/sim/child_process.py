"""One simulator as a child process: start it and wait (bounded) for its ready line, stop it with
SIGTERM, then SIGKILL, and keep what it wrote to stderr for the error message.

Its own module because it is the process mechanics alone (subprocess, selectors, signals), apart
from what the virtual environment starts (``genrep.sim.process``) and from its throw-away TLS
folders (``genrep.sim.tls_dirs``). Every started ``SimProcess`` is in ``_RUNNING`` until stopped;
``genrep.sim.process`` stops what is left at interpreter exit and re-exports these names, so
``from genrep.sim.process import SimProcess`` works as before.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from typing import NoReturn

from genrep.errors import GenrepError
from genrep.sim.lifecycle import PARENT_ENV

#: How long a simulator killed with SIGKILL may take to be reaped before stop() moves on.
KILL_WAIT_S = 30.0

_RUNNING: set["SimProcess"] = set()


class SimStartError(GenrepError):
    pass


class SimProcess:
    def __init__(self, module: str, args: list[str], *, ready_timeout: float = 20.0, env: dict | None = None):
        self.module, self.args = module, args
        self.ready_timeout = ready_timeout
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}
        self.stderr_tail = ""  # last lines the child wrote to stderr (filled on stop)
        self._stderr = None

    def start(self) -> dict:
        cmd = [sys.executable, "-m", self.module, *self.args]
        env = dict(os.environ if self.env is None else self.env)
        env.pop("GENREP_DEFECTS", None)  # defects are passed explicitly on the command line
        env[PARENT_ENV] = str(os.getpid())  # its parent, unless its launcher forks it (which names itself)
        # stderr goes to a temporary file, not a pipe: nobody reads a pipe while the simulator
        # runs, so a chatty child (tracebacks, warnings) would fill it and block mid-write.
        self._stderr = tempfile.TemporaryFile()
        self.stderr_tail = ""
        try:
            self.proc = self._launch(env) or subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                                              env=env, start_new_session=True)
        except OSError:
            self._stderr.close()
            self._stderr = None
            raise
        _RUNNING.add(self)
        line, eof = self._read_line(self.ready_timeout)
        if not line:
            if eof:  # stdout closed: the child exited (or closed stdout) without reporting ready
                code = self._exit_code(2.0)
                what = f"exited with code {code}" if code is not None else "closed its output"
                self._fail(f"{self.module} {what} before reporting ready")
            self._fail(f"{self.module} did not report ready within {self.ready_timeout} s")
        try:
            info = json.loads(line)
        except ValueError:
            info = None
        if not isinstance(info, dict):
            self._fail(f"{self.module} printed {line[:200]!r} instead of its endpoints")
        if "error" in info:
            self._fail(f"{self.module}: {info['error']}")
        self.info = info
        return self.info

    def _launch(self, env: dict):
        """The simulator forked by this process's launcher (``genrep.sim.launcher``), or None when the
        launcher is off, cannot start or does not preload this module (then: a new interpreter)."""
        from genrep.sim import launcher
        if self.module not in launcher.PRELOAD or not launcher.enabled():
            return None
        try:
            return launcher.launcher().spawn(self.module, self.args, env, self._stderr.fileno())
        except launcher.LauncherError:
            return None

    def _fail(self, message: str) -> NoReturn:
        """Stop the child and raise SimStartError with the tail of what it wrote to stderr."""
        self.stop()
        err = self.stderr_tail
        raise SimStartError(message + (f": {err}" if err else ""))

    def _exit_code(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _read_line(self, timeout: float) -> tuple[str, bool]:
        """The first stdout line within ``timeout`` s; ("", True) when stdout hit EOF first."""
        assert self.proc and self.proc.stdout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        try:
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    return "", False
                chunk = os.read(fd, 4096)
                if not chunk:
                    return "", True
                buf += chunk
        finally:
            sel.close()
        return buf.split(b"\n", 1)[0].decode("utf-8", errors="replace"), False

    @staticmethod
    def _read_tail(f, limit: int = 600) -> str:
        try:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4 * limit))
            return f.read().decode("utf-8", errors="replace").strip()[-limit:]
        except (OSError, ValueError):
            return ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        _RUNNING.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:  # SIGKILL cannot be refused, but a swamped host may take seconds to reap it
                    proc.wait(KILL_WAIT_S)
                except subprocess.TimeoutExpired:
                    print(f"genrep: simulator {self.module} (pid {proc.pid}) not gone {KILL_WAIT_S:.0f} s "
                          "after SIGKILL; left to the operating system", file=sys.stderr)
        if proc.stdout:
            proc.stdout.close()
        err, self._stderr = self._stderr, None
        if err is not None:
            self.stderr_tail = self._read_tail(err)
            err.close()
