"""The load users' log of ORUs sent and answered AA (``load.workload.AcceptedLog``).

The runner's "AA is stored" check reads it after the run, and only after a Locust that ended by
itself (``runner.store_is_judged``), whose ``quitting`` listener closed the log. So lines are
buffered, written through with the first line ``FLUSH_S`` after the last write-through and at
``close``; a process killed outright loses the lines added since the last write-through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from genrep.load.workload import AcceptedLog


def _on_disk(out: Path) -> list[str]:
    return [line for path in sorted(out.glob("accepted-*.txt"))
            for line in path.read_text(encoding="ascii").splitlines()]


def test_lines_are_written_through_at_close_and_once_flush_s_has_passed(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("genrep.load.workload.time.monotonic", lambda: clock[0])
    log = AcceptedLog(str(tmp_path))
    try:
        log.add("LA1", AcceptedLog.SENT)
        assert _on_disk(tmp_path) == ["S LA1"]             # the first line opens and writes through
        log.add("LA1", AcceptedLog.ACCEPTED)
        clock[0] += AcceptedLog.FLUSH_S - 0.01
        log.add("LA2", AcceptedLog.SENT)
        assert _on_disk(tmp_path) == ["S LA1"]             # buffered: not a write per message
        clock[0] += 0.01
        log.add("LA2", AcceptedLog.ACCEPTED)
        assert _on_disk(tmp_path) == ["S LA1", "A LA1", "S LA2", "A LA2"]
        log.add("LA3", AcceptedLog.JOURNEY)
    finally:
        log.close()
    assert _on_disk(tmp_path) == ["S LA1", "A LA1", "S LA2", "A LA2", "J LA3"]
    assert AcceptedLog.read(tmp_path) == ["LA1", "LA2"]
    assert AcceptedLog.read(tmp_path, AcceptedLog.SENT) == ["LA1", "LA2"]


def test_a_process_killed_outright_keeps_what_it_logged_before_its_last_flush_s(tmp_path):
    """SIGKILL, no exit handler: every line added before the last write-through is there, and
    nothing that was never added."""
    code = ("import os, signal, time\n"
            "from genrep.load.workload import AcceptedLog\n"
            f"log = AcceptedLog({str(tmp_path)!r})\n"
            "for i in range(50):\n"
            "    log.add(f'LA{i}', 'S')\n"
            "    log.add(f'LA{i}', 'A')\n"
            "time.sleep(AcceptedLog.FLUSH_S + 0.05)\n"
            "log.add('LA50', 'S')\n"
            "for i in range(51, 60):\n"
            "    log.add(f'LA{i}', 'S')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    lines = _on_disk(tmp_path)
    expected = [f"{k} LA{i}" for i in range(50) for k in "SA"] + ["S LA50"]
    assert lines[:len(expected)] == expected
    assert set(lines) <= set(expected) | {f"S LA{i}" for i in range(51, 60)}


def test_the_store_is_judged_only_after_a_locust_that_ended_by_itself():
    """What the buffered log rests on: after a kill (or any exit but 0 or 1) or an interruption the
    runner does not read the log, whose last lines may never have reached the disk."""
    from types import SimpleNamespace
    from genrep.load.runner import store_is_judged
    assert store_is_judged(SimpleNamespace(code=0, interrupted=None))
    assert store_is_judged(SimpleNamespace(code=1, interrupted=None))
    assert not store_is_judged(SimpleNamespace(code=-9, interrupted=None))
    assert not store_is_judged(SimpleNamespace(code=4, interrupted=None))
    assert not store_is_judged(SimpleNamespace(code=0, interrupted=KeyboardInterrupt()))


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown ORU log kind"):
        AcceptedLog(str(tmp_path)).add("LA1", "X")
    assert not os.listdir(tmp_path)
