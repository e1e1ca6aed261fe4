"""The harness sweeps stale throw-away TLS folders (private keys) after each feature-suite run and
again when it exits (``genrep.rehearsal._sweep_tls_dirs``): a suite SIGKILLed before its simulators
started leaves its folder with nobody to remove it, and with ``--workers`` the folders are the xdist
workers', which outlive a killed suite by seconds. Only folders whose owner is gone are removed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from genrep.sim.lifecycle import OWNER_FILE, TLS_DIR_PREFIX


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def folder(tmp: Path, name: str, pid: int) -> Path:
    d = tmp / f"{TLS_DIR_PREFIX}{name}"
    d.mkdir(mode=0o700)
    (d / OWNER_FILE).write_text(json.dumps({"pid": pid, "start": None, "host": socket.gethostname()}),
                                encoding="utf-8")
    (d / "client.key").write_text("throw-away", encoding="utf-8")
    return d


def test_after_a_run_and_again_at_exit_only_folders_of_gone_owners_go(tmp_path):
    gone, alive = _gone_pid(), os.getpid()
    stale, live = folder(tmp_path, "stale", gone), folder(tmp_path, "live", alive)
    # the harness: one sweep after its suite run; a folder left later (an xdist worker that outlived
    # the killed suite) is gone once the harness has exited
    code = f"""
import json, os, socket, sys
from pathlib import Path
from genrep import rehearsal
tmp = Path({str(tmp_path)!r})
rehearsal._sweep_tls_dirs(str(tmp))
assert not Path({str(stale)!r}).exists() and Path({str(live)!r}).exists()
late = tmp / "{TLS_DIR_PREFIX}late"
late.mkdir()
(late / "{OWNER_FILE}").write_text(json.dumps({{"pid": {gone}, "start": None, "host": socket.gethostname()}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{TLS_DIR_PREFIX}live"]
