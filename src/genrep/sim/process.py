"""Start and stop simulator processes: bounded waits, clean shutdown, no orphans.

A simulator prints one JSON line with its endpoints when it is ready. ``SimProcess`` waits for that
line for at most ``ready_timeout`` seconds; stopping sends SIGTERM, waits, then SIGKILL. Children
also watch their parent and exit when it disappears, and every started process is stopped at
interpreter exit, so Ctrl-C or a failing fixture leaves nothing running.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import NoReturn

from ..config import Endpoint, Profile
from ..errors import GenrepError

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
        # stderr goes to a temporary file, not a pipe: nobody reads a pipe while the simulator
        # runs, so a chatty child (tracebacks, warnings) would fill it and block mid-write.
        self._stderr = tempfile.TemporaryFile()
        self.stderr_tail = ""
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
                                         start_new_session=True)
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
                proc.wait(timeout)
        if proc.stdout:
            proc.stdout.close()
        err, self._stderr = self._stderr, None
        if err is not None:
            self.stderr_tail = self._read_tail(err)
            err.close()


@atexit.register
def _stop_all() -> None:
    for sim in list(_RUNNING):
        sim.stop(timeout=2.0)


@dataclass
class VirtualEnvironment:
    """The running virtual environment and the profile pointing at it."""

    profile: Profile
    processes: list[SimProcess]
    endpoints_info: dict

    def stop(self) -> None:
        for p in self.processes:
            p.stop()

    def __enter__(self) -> "VirtualEnvironment":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_virtual_environment(profile: Profile, *, host: str = "127.0.0.1", mllp_port: int = 0,
                              fhir_port: int = 0, nll_port: int = 0,
                              defects: tuple[str, ...] | None = None) -> VirtualEnvironment:
    """Start the simulators (NLL, then the EHR that reads from it); return the filled profile.

    If any simulator fails to start, the ones already started are stopped before the error is
    raised: a failed start leaves nothing running."""
    defects = profile.defects if defects is None else defects
    started: list[SimProcess] = []
    try:
        nll = SimProcess("genrep.sim.nll", ["--host", host, "--port", str(nll_port)])
        nll_info = nll.start()
        started.append(nll)
        args = ["--host", host, "--mllp-port", str(mllp_port), "--fhir-port", str(fhir_port),
                "--nll-url", nll_info["fhir_base"]]
        for d in defects:
            args += ["--defect", d]
        ehr = SimProcess("genrep.sim.ehr", args)
        info = ehr.start()
        started.append(ehr)
    except BaseException:
        for p in started:
            p.stop()
        raise
    nll_base = nll_info["fhir_base"]
    endpoints = {
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", host, info["mllp_port"]),
        "ehr_fhir": Endpoint("ehr_fhir", "http", host, info["fhir_port"], base_url=info["fhir_base"]),
        "ehr_admin": Endpoint("ehr_admin", "http", host, info["fhir_port"],
                              base_url=f"http://{host}:{info['fhir_port']}/admin"),
        "nll_fhir": Endpoint("nll_fhir", "http", host, nll_info["port"], base_url=nll_base),
        "nll_admin": Endpoint("nll_admin", "http", host, nll_info["port"],
                              base_url=nll_base.rsplit("/fhir", 1)[0] + "/admin"),
    }
    return VirtualEnvironment(profile.with_endpoints(endpoints), started, {"ehr": info, "nll": nll_info})
