"""Helpers that tests in more than one folder share (``tests/`` is on ``sys.path`` for the e2e and
sim tests, as ``import support``): one copy of each, so that a fix reaches every test using it.

``copy_project``: a throw-away copy of the project's code and configuration, for runs that must not
touch the work tree (a feature file written for the test, a run whose outputs are searched).
``LoopbackListener``: a TCP listener in a thread that records every connection and byte it gets,
where a test shows that nothing (or exactly something) reaches an address.
``descendants``: this process's child processes (recursively) but its simulator launcher, which
lives as long as this process; what is left after a run was left behind.
``fewer_examples``: ``GENREP_EXAMPLES_SHARE`` (``make test-fast``), each property test with its share
of the examples it asks for.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

from genrep.paths import PROJECT_ROOT

#: what a copy needs to run genrep and the feature suite (features/ is the test's own)
PROJECT_PARTS = ("src", "steps", "contracts", "environments", "fixtures", "load", "pyproject.toml")


def copy_project(root: Path) -> tuple[Path, dict[str, str]]:
    """Copy the project's code and configuration (``PROJECT_PARTS``, no features) to ``root``;
    returns ``(root, env)``, ``env`` running genrep from the copy (``PYTHONPATH`` its ``src``, so
    ``PROJECT_ROOT`` is the copy). The caller writes the features it needs under ``root/features``."""
    for name in PROJECT_PARTS:
        src = PROJECT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    return root, dict(os.environ, PYTHONPATH=str(root / "src"))


class LoopbackListener:
    """A TCP listener on ``host`` (a loopback address) that counts connections and keeps every byte
    it receives. ``answer`` None: each connection is read until the peer closes or goes quiet, and
    nothing is answered. ``answer`` bytes: read until the end of the request's HTTP headers, then
    ``answer`` is sent (so a client that follows a redirect here finishes its request)."""

    def __init__(self, host: str = "127.0.0.1", *, answer: bytes | None = None, read_timeout: float = 0.5):
        self.answer, self.read_timeout = answer, read_timeout
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(self.read_timeout)
                request = bytearray()
                try:
                    while self.answer is None or b"\r\n\r\n" not in request:
                        data = conn.recv(65536)
                        if not data:
                            break
                        request += data
                        self.received += data
                    if self.answer is not None:
                        conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def descendants() -> set:
    """This process's descendants but its simulator launcher (``genrep.sim.launcher``: it lives as
    long as this process); the simulators it forked are among them."""
    import psutil

    from genrep.sim import launcher
    return {p for p in psutil.Process().children(recursive=True) if p.pid != launcher.running_pid()}


# -- the day-to-day share of each property test's examples (`make test-fast`) ----------------------
#
# GENREP_EXAMPLES_SHARE=S (0 < S <= 1, default 1) runs every Hypothesis test with S of the examples
# its settings ask for (at least 10). `make test-fast` sets 0.5: its property tests were ~28 s of its
# ~100 s of CPU, and it is the quick loop, not the gate; `make test` (what CI runs) never sets it, so
# every property runs in full there. Hypothesis's own settings profiles cannot do this: a test's
# explicit ``max_examples`` wins over any profile, and most tests here set one. A test asking for
# fewer than 10 keeps its number.

EXAMPLES_SHARE_ENV = "GENREP_EXAMPLES_SHARE"


def fewer_examples(items, environ=None) -> None:
    """Each Hypothesis test among pytest ``items`` set to run its share of examples (above)."""
    raw = (os.environ if environ is None else environ).get(EXAMPLES_SHARE_ENV, "").strip()
    if not raw:
        return
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        raise ValueError(f"{EXAMPLES_SHARE_ENV}={raw!r}: a share of the examples, above 0 and at most 1")
    from hypothesis import settings

    done: set[int] = set()
    for item in items:
        test = getattr(item, "obj", None)
        test = getattr(test, "__func__", test)  # a test method: its function holds the settings
        if getattr(test, "hypothesis", None) is None or id(test) in done:  # not a @given test, or seen
            continue
        done.add(id(test))
        # what @settings stores and @given reads at each call (no public way to change it afterwards)
        old = getattr(test, "_hypothesis_internal_use_settings", None) or settings.default
        fewer = max(min(10, old.max_examples), round(old.max_examples * share))
        test._hypothesis_internal_use_settings = settings(old, max_examples=fewer)
