"""In Locust's ``--processes`` mode every process writes ``--json-file`` at its end, workers included
(each truncating it): a worker ending after the master replaced the run's totals with its own, and
one killed mid-write left the file empty. ``genrep.load.locust_process.workers_write_no_statistics``
(registered by ``load/users.py``) leaves the file to the master. Real Locust, real forked workers:
the test counts the processes that write the file, without and with the rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from genrep.load.locust_process import free_port

LOCUSTFILE = '''
import os
from locust import User, constant, events, stats as locust_stats, task
from locust.runners import WorkerRunner
from genrep.load.locust_process import workers_write_no_statistics

_save = locust_stats.save_stats_json


def _counted(stats, filename):
    with open(os.environ["WRITERS_LOG"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    _save(stats, filename)


locust_stats.save_stats_json = _counted


@events.init.add_listener
def _rule(environment, **_kw):
    if os.environ["APPLY_RULE"] == "1":
        workers_write_no_statistics(environment.parsed_options, isinstance(environment.runner, WorkerRunner))


class Quick(User):
    wait_time = constant(0.05)

    @task
    def tick(self):
        self.environment.events.request.fire(request_type="T", name="tick", response_time=1, response_length=0,
                                             exception=None, context={})
'''


@pytest.mark.timeout(120)
@pytest.mark.parametrize("rule", ["0", "1"])
def test_only_the_master_writes_the_statistics(tmp_path, rule):
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE, encoding="utf-8")
    log = tmp_path / "writers.log"
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "4", "-r", "4",
                           "--run-time", "1s", "--processes", "2", "--json-file", str(tmp_path / "stats"),
                           # a port of its own, as genrep's runner takes: Locust's default 5557 is shared by
                           # every run on the machine (another test's workers would join this master)
                           "--master-bind-port", str(port), "--master-port", str(port),
                           "--only-summary", "--stop-timeout", "2"],
                          capture_output=True, text=True, timeout=90, cwd=tmp_path,
                          env=dict(os.environ, WRITERS_LOG=str(log), APPLY_RULE=rule))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    writers = log.read_text().split()
    if rule == "0":  # what the rule guards against: Locust's workers write the file too
        assert len(writers) == 3, writers
    else:
        assert len(writers) == 1, writers
        entries = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
        assert sum(e["num_requests"] for e in entries if e["name"] == "tick") > 0
