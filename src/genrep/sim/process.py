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
import time
from dataclasses import dataclass

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

    def start(self) -> dict:
        cmd = [sys.executable, "-m", self.module, *self.args]
        env = dict(os.environ if self.env is None else self.env)
        env.pop("GENREP_DEFECTS", None)  # defects are passed explicitly on the command line
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     start_new_session=True)
        _RUNNING.add(self)
        line = self._read_line(self.ready_timeout)
        if not line:
            err = self._stderr_tail()
            self.stop()
            raise SimStartError(f"{self.module} did not report ready within {self.ready_timeout} s"
                                + (f": {err}" if err else ""))
        try:
            self.info = json.loads(line)
        except ValueError:
            self.stop()
            raise SimStartError(f"{self.module} printed {line[:200]!r} instead of its endpoints") from None
        if "error" in self.info:
            self.stop()
            raise SimStartError(f"{self.module}: {self.info['error']}")
        return self.info

    def _read_line(self, timeout: float) -> str:
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
                    return ""
                chunk = os.read(fd, 4096)
                if not chunk:
                    return ""
                buf += chunk
        finally:
            sel.close()
        return buf.split(b"\n", 1)[0].decode("utf-8", errors="replace")

    def _stderr_tail(self) -> str:
        if not self.proc or not self.proc.stderr:
            return ""
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read().decode("utf-8", errors="replace").strip()[-600:]

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
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


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
                              fhir_port: int = 0, defects: tuple[str, ...] | None = None) -> VirtualEnvironment:
    """Start the virtual EHR (and, as they land, the other simulators); return the filled profile."""
    defects = profile.defects if defects is None else defects
    args = ["--host", host, "--mllp-port", str(mllp_port), "--fhir-port", str(fhir_port)]
    for d in defects:
        args += ["--defect", d]
    ehr = SimProcess("genrep.sim.ehr", args)
    info = ehr.start()
    endpoints = {
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", host, info["mllp_port"]),
        "ehr_fhir": Endpoint("ehr_fhir", "http", host, info["fhir_port"], base_url=info["fhir_base"]),
        "ehr_admin": Endpoint("ehr_admin", "http", host, info["fhir_port"],
                              base_url=f"http://{host}:{info['fhir_port']}/admin"),
    }
    return VirtualEnvironment(profile.with_endpoints(endpoints), [ehr], {"ehr": info})
