"""The virtual environment's throw-away TLS folders (a CA, certificates and private keys): made
private (0700, files 0600) and naming their owner (``owner.json``: pid, process start time, host),
removed on stop, and swept up at the next start when their owner was SIGKILLed.

Its own module because the folder's lifecycle (who owns it, when it is stale) is a concern apart
from starting processes (``genrep.sim.child_process``) and from what the environment starts
(``genrep.sim.process``). Every folder made here is in ``_TLS_DIRS`` until removed;
``genrep.sim.process`` removes what is left at interpreter exit and re-exports these names.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile

from genrep.sim.lifecycle import OWNER_FILE, TLS_DIR_PREFIX

_TLS_DIRS: set[str] = set()  # throw-away certificate folders of running virtual environments


def _remove_tls_dir(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
        _TLS_DIRS.discard(path)


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if unknown: with
    the pid it tells the owner from a later process that got the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read().decode("ascii", errors="replace")
        return stat_line.rsplit(")", 1)[1].split()[19]  # field 22, counted after the "(comm)" field
    except (OSError, IndexError):
        return None


def _owner_alive(owner: dict) -> bool:
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user has that pid now: not ours, but keep the folder
    started = owner.get("start")
    return started is None or _start_time(pid) in (None, started)


def make_tls_dir() -> str:
    """A new private folder for throw-away TLS material (0700), registered for removal at exit and
    naming its owner (this process) for ``remove_stale_tls_dirs``."""
    path = tempfile.mkdtemp(prefix=TLS_DIR_PREFIX)  # mode 0700: only this user reads the keys
    _TLS_DIRS.add(path)
    try:
        owner = {"pid": os.getpid(), "start": _start_time(os.getpid()), "host": socket.gethostname()}
        fd = os.open(os.path.join(path, OWNER_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(owner, f)
    except BaseException:
        _remove_tls_dir(path)
        raise
    return path


def remove_stale_tls_dirs(tmp: str | None = None) -> list[str]:
    """Remove ``genrep-tls-*`` folders in the temporary directory that belong to this user and
    this host and whose owner process is gone (it was SIGKILLed, or its machine lost power);
    return their paths. Folders without an owner file, of another user or host, or of a live
    process are left alone."""
    tmp = tmp or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return removed
    host = socket.gethostname()
    for entry in entries:
        if not entry.name.startswith(TLS_DIR_PREFIX) or entry.path in _TLS_DIRS:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            with open(os.path.join(entry.path, OWNER_FILE), encoding="utf-8") as f:
                owner = json.load(f)
        except (OSError, ValueError):
            continue
        if not isinstance(owner, dict) or owner.get("host") != host or _owner_alive(owner):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed
