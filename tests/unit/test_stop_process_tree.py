"""``rehearsal.stop_process_tree`` signals the run's process group; a run forked by the suite server
an instant ago may not lead a group yet (it calls setsid() after the fork; Popen returns only after
exec): then the process itself gets the signal, never nothing."""

from __future__ import annotations

import subprocess
import sys

from genrep.rehearsal import stop_process_tree


def test_a_process_that_leads_no_group_yet_is_still_stopped():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # in our group, not its own
    try:
        stop_process_tree(proc, grace=5.0)
        assert proc.poll() is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
