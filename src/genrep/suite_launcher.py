"""The suite server: feature-suite runs forked from a process that has already imported pytest.

Why: ``genrep selftest`` runs the feature suite 30 times and ``genrep mutate`` dozens; each run is a
new ``python -m pytest steps`` that spends ~1.45 s of CPU starting (imports ~0.8 s: genrep, pytest,
pytest-bdd, allure, the plugins) and ~0.5 s more in its simulator launcher importing the simulators,
before its first scenario. The suite server is the simulator launcher (``genrep.sim.launcher``: one
process, AF_UNIX SEQPACKET, JSON + SCM_RIGHTS) started with another preload: pytest, the plugins
installed for it, the genrep modules the step definitions import, and the simulators. Each run is a
``fork()`` of it that becomes ``pytest.console_main()`` with the run's argv, environment and working
directory, in a session of its own, stdin on /dev/null, stdout and stderr into the one pipe the
harness reads. A run that starts the virtual environment forks its simulator launcher from itself
(the simulators are already imported: ``launcher._fork_server``), so that costs no interpreter either.

What is preloaded, and why each is safe to share (the environment-at-import audit):

* never ``steps/`` or its conftest: pytest imports them itself, by path, in each run (a module
  kept from the server would carry one run's session state into the next);
* never Hypothesis's pytest plugin (``-p no:hypothesispytest`` in every run) nor Locust's gevent;
* a module that reads ``os.environ`` when it is imported would keep the server's value in a run
  whose environment differs. None of the genrep modules preloaded does (every read is in a function,
  at use: ``GENREP_SHRINK_SECONDS``, the latch files, ``GENREP_DEFECTS``, ``GENREP_SUITE_PARENT_PID``,
  ``PYTEST_ADDOPTS``...); tests/sim/test_suite_launcher.py records every variable read while the
  preload is imported and allows only ones a run cannot change. The server starts with the
  environment a run gets (``rehearsal._child_env``) but for what is per run, so even a third-party
  module's import-time read (Hypothesis: ``CI``) sees what a fresh run would; ``PYTHONIOENCODING``,
  read when the interpreter starts, is the same utf-8 for both.

The server ends when its starter closes the socket (``forked_suite_runs`` closes and reaps it, so
its runs' CPU comes back in RUSAGE_CHILDREN, counted once). A run's harness watch
(``GENREP_SUITE_PARENT_PID``) names the server, the run's parent: it ends when the harness does.
"""

from __future__ import annotations

import re

from genrep.paths import PROJECT_ROOT
from genrep.sim import launcher

#: pytest's own, and the plugins every suite run loads (the installed pytest11 entry points are added)
BASE_PRELOAD = ("pytest", "_pytest.config", "pytest_bdd", "pytest_bdd.plugin", "allure_pytest_bdd.plugin",
                "allure_commons")
#: what a run imports at its first FHIR validation (``transport.fhir.validate`` imports each model on
#: first use): the R4B package (fhir_core and pydantic, ~0.22 s of CPU) and the models of the
#: resources the EHR answers with (~0.08 s); and the X.509 module the e-prescription simulators
#: load when they start. ~0.3 s of CPU a run otherwise (py-spy of forked selftest rows)
RUN_IMPORTS = ("fhir.resources.R4B", "fhir.resources.R4B.patient", "fhir.resources.R4B.medicationrequest",
               "fhir.resources.R4B.diagnosticreport", "fhir.resources.R4B.bundle",
               "fhir.resources.R4B.operationoutcome", "cryptography.x509", "cryptography.x509.oid")
#: plugins a suite run never loads (disabled on its command line) or that must not be imported here
NOT_PRELOADED = ("_hypothesis_pytestplugin", "pytest_locust")
_STEP_IMPORT = re.compile(r"^\s*(?:from|import)\s+(genrep(?:\.\w+)*)", re.MULTILINE)


def preload_modules() -> tuple[str, ...]:
    """What the server imports: ``BASE_PRELOAD``, pytest's default plugins, the pytest11 plugins
    installed, the genrep modules ``steps/*.py`` import (read as text: the library never imports
    the steps), the simulators (``launcher.PRELOAD``) and ``RUN_IMPORTS``."""
    from importlib.metadata import entry_points

    from _pytest.config import default_plugins
    names = list(BASE_PRELOAD)
    names += [f"_pytest.{p}" for p in default_plugins if p != "cacheprovider"]
    names += [ep.module for ep in entry_points(group="pytest11")]
    for path in sorted((PROJECT_ROOT / "steps").glob("*.py")):
        names += _STEP_IMPORT.findall(path.read_text(encoding="utf-8"))
    names += launcher.PRELOAD
    names += RUN_IMPORTS
    seen: dict[str, None] = {}
    for name in names:
        if not name.startswith(NOT_PRELOADED) and name not in seen:
            seen[name] = None
    return tuple(seen)


def start(env: dict[str, str]) -> launcher.Launcher | None:
    """A suite server preloaded as above, started with ``env``; None when it is switched off
    (``GENREP_SIM_LAUNCHER=off``, as the simulator launcher) or cannot start (runs then use Popen)."""
    if not launcher.enabled():
        return None
    try:
        return launcher.Launcher(preload=preload_modules(), env=env, cwd=str(PROJECT_ROOT), note_cpu=False)
    except (launcher.LauncherError, OSError, ImportError):
        return None


def spawn(server: launcher.Launcher, cmd: list[str], env: dict[str, str]) -> launcher.LaunchedProcess:
    """``cmd`` (``python -m pytest ...``, as ``rehearsal._pytest_command`` builds it) forked by the
    server: the Popen-like process, its stdout and stderr one text pipe. Raises LauncherError."""
    if cmd[1:3] != ["-m", "pytest"]:
        raise launcher.LauncherError(f"not a pytest command: {cmd[:3]}")
    return server.spawn("pytest", cmd[3:], env, None, cwd=str(PROJECT_ROOT), call="console_main", text=True)


__all__ = ["BASE_PRELOAD", "NOT_PRELOADED", "RUN_IMPORTS", "preload_modules", "spawn", "start"]
