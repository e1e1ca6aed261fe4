"""The suite server (genrep.suite_launcher over genrep.sim.launcher): a run forked from it is the
process a new ``python -m pytest`` would be (its own environment, argv, exit code, session, output
pipe; torn down by SIGTERM to its group), the server ends with its starter, runs fall back to
Popen when it cannot start, and a feature run gives the same results both ways. Real forks and
sockets throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from genrep import rehearsal, suite_launcher
from genrep.paths import PROJECT_ROOT
from genrep.results.reader import read_results
from genrep.sim import launcher

HELPER = "tests.sim.suite_child"


@pytest.fixture(autouse=True)
def _launcher_on(monkeypatch):
    monkeypatch.delenv(launcher.SWITCH_ENV, raising=False)


@pytest.fixture
def server():
    env = {**os.environ, "GENREP_TEST_SERVER_ONLY": "server"}
    started = launcher.Launcher(preload=("json", "genrep.sim.lifecycle"), env=env, cwd=str(PROJECT_ROOT),
                                note_cpu=False)
    yield started
    started.close()


def _run(server, call: str, argv=(), env=None):
    proc = server.spawn(HELPER, list(argv), env if env is not None else dict(os.environ), None,
                        cwd=str(PROJECT_ROOT), call=call, text=True)
    return proc


def test_a_run_gets_its_own_environment_argv_cwd_session_and_only_its_pipe(server):
    env = {**os.environ, "GENREP_TEST_RUN_ONLY": "run"}
    env.pop("GENREP_TEST_SERVER_ONLY", None)
    proc = _run(server, "show", ["-q", "x y"], env)
    out = proc.stdout.read()
    assert proc.wait(10) == 0
    first, rest = out.split("\n", 1)
    seen = json.loads(first)
    assert seen["env"]["GENREP_TEST_RUN_ONLY"] == "run"
    assert "GENREP_TEST_SERVER_ONLY" not in seen["env"]  # the server's own environment stays its own
    assert seen["argv"] == ["-q", "x y"] and seen["cwd"] == str(PROJECT_ROOT)
    assert seen["sid"] == seen["pid"] == proc.pid  # a session of its own: SIGTERM to its group is its tree
    assert seen["stdin"] == os.devnull
    assert seen["fds"][:3] == [0, 1, 2] and len(seen["fds"]) <= 4  # 0-2 (+ the listing's own): no server socket
    assert "on stderr" in rest  # stderr into the same pipe


def test_the_exit_code_comes_back(server):
    proc = _run(server, "exit_with", ["7"])
    proc.stdout.read()
    assert proc.wait(10) == 7 and proc.poll() == 7
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)  # reaped by the server


def test_sigterm_to_its_group_tears_the_run_and_its_children_down(server):
    proc = _run(server, "wait_with_grandchild")
    grandchild = psutil.Process(json.loads(proc.stdout.readline())["grandchild"])
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(0.2)
    rehearsal.stop_process_tree(proc, grace=10)
    assert proc.returncode == -signal.SIGTERM  # default SIGTERM handling, as a new interpreter has
    gone, alive = psutil.wait_procs([grandchild], timeout=5)
    assert not alive


def test_the_server_ends_when_its_starter_closes_the_socket(server):
    pid = server.pid
    server._sock.close()
    assert server._proc.wait(10) == 0
    assert not psutil.pid_exists(pid)


STARTER = textwrap.dedent("""
    import os, sys
    from genrep.sim import launcher
    server = launcher.Launcher(preload=("json",), note_cpu=False)
    print(server.pid, flush=True)
    sys.stdin.read()
""")


def test_the_server_ends_when_its_starter_is_killed():
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        pid = int(starter.stdout.readline())
        server = psutil.Process(pid)
        starter.kill()
        starter.wait(10)
        gone, alive = psutil.wait_procs([server], timeout=10)
        assert not alive
    finally:
        starter.stdin.close()
        starter.stdout.close()


def test_a_run_forks_its_simulator_launcher_holding_nothing_of_the_run():
    """In a run forked by the suite server the simulators are imported already: its launcher is a
    fork of it (no new interpreter), holding only its socket, 0-2 on /dev/null."""
    server = suite_launcher.start(dict(os.environ))
    assert server is not None
    try:
        proc = _run(server, "sim_launcher")
        seen = json.loads(proc.stdout.readline())
        assert proc.wait(20) == 0
        assert proc.stdout.read() == ""  # end of file: the forked launcher did not keep the pipe
    finally:
        server.close()
    assert seen["kind"] == "_ForkedServer"
    assert seen["stdout"] == os.devnull
    assert len(seen["fds"]) == 4, seen  # 0, 1, 2 and its socket


def test_the_preload_reads_no_variable_a_run_sets():
    """The environment-at-import audit: every variable read while the preload is imported is a
    library switch no run changes; none is genrep's, pytest's, or one a run sets."""
    modules = suite_launcher.preload_modules()
    assert not any(m == "steps" or m.startswith(("steps.", "_hypothesis", "locust", "gevent")) for m in modules)
    audit = textwrap.dedent("""
        import importlib, json, os, sys
        read = set()
        class Recording(type(os.environ)):
            def __getitem__(self, k): read.add(k); return super().__getitem__(k)
            def __contains__(self, k): read.add(k); return super().__contains__(k)
            def get(self, k, d=None): read.add(k); return super().get(k, d)
        e = os.environ
        os.environ = Recording(e._data, e.encodekey, e.decodekey, e.encodevalue, e.decodevalue)
        for m in sys.argv[1:]:
            importlib.import_module(m)
        print(json.dumps(sorted(read)))
    """)
    out = subprocess.run([sys.executable, "-c", audit, *modules], capture_output=True, text=True, timeout=60,
                         cwd=PROJECT_ROOT, check=True).stdout
    read = set(json.loads(out))
    per_run = {k for k in read if k.startswith(("GENREP_", "PYTEST_")) or k in ("PYTHONIOENCODING", "CI")}
    assert not per_run, per_run
    known = {"AIOHTTP_NOSENDFILE", "AIOHTTP_NO_EXTENSIONS", "EXECNET_DEBUG", "FROZENLIST_NO_EXTENSIONS",
             "MULTIDICT_NO_EXTENSIONS", "PROPCACHE_NO_EXTENSIONS", "PYTHONASYNCIODEBUG", "SSLKEYLOGFILE",
             "YARL_NO_EXTENSIONS",
             # suite_launcher.RUN_IMPORTS (pydantic, its plugin loader's entry-point scan, zoneinfo):
             # the installation's switches, the same in the server and every run it forks
             "HOME", "PYDANTIC_DISABLE_PLUGINS", "PYTHONTZPATH", "PYTHONUSERBASE", "_PYTHON_PROJECT_BASE",
             "_PYTHON_SYSCONFIGDATA_NAME"}
    assert read <= known, read - known  # a new import-time read: check it, then add it here


def test_runs_fall_back_to_popen_when_the_server_cannot_start(monkeypatch, tmp_path):
    monkeypatch.setattr(suite_launcher, "BASE_PRELOAD", (*suite_launcher.BASE_PRELOAD, "genrep_no_such_module"))
    kinds = []
    real = rehearsal._start
    monkeypatch.setattr(rehearsal, "_start", lambda cmd, env: kinds.append(real(cmd, env)) or kinds[-1])
    with rehearsal.forked_suite_runs() as forked:
        assert not forked
        out = rehearsal.run_features(results_dir=tmp_path / "allure-results", marks="ACC-R02 and RAD-R01",
                                     timeout=120)
    assert out.returncode == 5  # nothing selected: pytest ran
    assert [type(p) for p in kinds] == [subprocess.Popen]


def _outcomes(results_dir):
    return sorted((r.name, r.status, tuple(r.kinds)) for r in read_results(results_dir))


@pytest.mark.heavy  # the feature suite run twice: make test runs it, make test-fast does not
def test_a_feature_run_gives_the_same_results_forked_and_as_a_new_interpreter(monkeypatch, tmp_path):
    kinds = []
    real = rehearsal._start
    monkeypatch.setattr(rehearsal, "_start", lambda cmd, env: kinds.append(real(cmd, env)) or kinds[-1])
    args = dict(defects=("access-denied-as-empty",), marks="ACC-R02", timeout=300,
                extra_env={rehearsal.SHRINK_SECONDS_ENV: "0"})
    plain = rehearsal.run_features(results_dir=tmp_path / "plain" / "allure-results", **args)
    with rehearsal.forked_suite_runs() as forked:
        assert forked
        server_pid = rehearsal._SERVER.pid
        fork = rehearsal.run_features(results_dir=tmp_path / "fork" / "allure-results", **args)
    assert [type(p) for p in kinds] == [subprocess.Popen, launcher.LaunchedProcess]
    assert not psutil.pid_exists(server_pid)  # closed and reaped on the way out
    assert fork.returncode == plain.returncode == 1, fork.output[-2000:]
    assert _outcomes(fork.results_dir) == _outcomes(plain.results_dir)
    assert any(status == "failed" for _, status, _ in _outcomes(fork.results_dir))
    assert fork.output.count("\n") > 3 and "failed" in fork.output
