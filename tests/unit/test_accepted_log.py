"""The load users' log of ORUs sent and answered AA (``load.workload.AcceptedLog``).

The runner's "AA is stored" check reads it after the run: every stored report must have an ``S``
line, so an ``S`` line is on disk before its message can leave, even if the process is then killed
outright; ``A`` lines may wait for the next ``S`` line (losing one only asks less of the store).
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


def test_a_sent_line_is_on_disk_when_add_returns_and_answers_ride_with_the_next(tmp_path):
    log = AcceptedLog(str(tmp_path))
    try:
        log.add("LA1", AcceptedLog.SENT)
        assert _on_disk(tmp_path) == ["S LA1"]
        log.add("LA1", AcceptedLog.ACCEPTED)
        log.add("LA2", AcceptedLog.SENT)
        assert _on_disk(tmp_path) == ["S LA1", "A LA1", "S LA2"]
        log.add("LA2", AcceptedLog.ACCEPTED)
        log.add("LA3", AcceptedLog.JOURNEY)
    finally:
        log.close()
    assert _on_disk(tmp_path) == ["S LA1", "A LA1", "S LA2", "A LA2", "J LA3"]
    assert AcceptedLog.read(tmp_path) == ["LA1", "LA2"]
    assert AcceptedLog.read(tmp_path, AcceptedLog.SENT) == ["LA1", "LA2"]


def test_a_process_killed_outright_keeps_every_sent_line(tmp_path):
    """SIGKILL right after the last ``add``: no exit handler runs, yet every ``S`` line is there."""
    code = ("import os, signal\n"
            "from genrep.load.workload import AcceptedLog\n"
            f"log = AcceptedLog({str(tmp_path)!r})\n"
            "for i in range(50):\n"
            "    log.add(f'LA{i}', 'S')\n"
            "    log.add(f'LA{i}', 'A')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    lines = _on_disk(tmp_path)
    assert [line for line in lines if line.startswith("S ")] == [f"S LA{i}" for i in range(50)]
    assert set(lines) <= {f"{k} LA{i}" for k in "SA" for i in range(50)}


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown ORU log kind"):
        AcceptedLog(str(tmp_path)).add("LA1", "X")
    assert not os.listdir(tmp_path)
