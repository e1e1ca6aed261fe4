"""Run the feature suite (pytest-bdd) as a subprocess and collect its Allure results.

A subprocess, not ``pytest.main`` in-process: each run gets its own simulators, its own defects and
a clean interpreter (Locust's gevent patching, when load runs join, cannot leak in), and the whole
run is bounded by a timeout so a hung system under test can never hang a CI job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import PROJECT_ROOT
from .errors import GenrepError

REPORTS_DIR = PROJECT_ROOT / "reports"


@dataclass
class RunOutcome:
    returncode: int
    results_dir: Path
    output: str


def run_features(*, env: str | None = None, defects: tuple[str, ...] = (), results_dir: Path,
                 paths: tuple[str, ...] = ("features",), select: str | None = None,
                 marks: str | None = None, workers: int = 0, timeout: float = 1800.0,
                 quiet: bool = True, stream: bool = False) -> RunOutcome:
    results_dir = Path(results_dir)
    if results_dir.exists():
        shutil.rmtree(results_dir)
    results_dir.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "steps"), "-p", "no:cacheprovider",
           "--alluredir", str(results_dir), "-o", "console_output_style=classic", "-rfE"]
    cmd.append("-q" if quiet else "-v")
    if env:
        cmd += ["--env", env]
    for d in defects:
        cmd += ["--defect", d]
    expr = []
    if marks:
        expr.append(f"({marks})")
    expr.append("not wip")
    cmd += ["-m", " and ".join(expr)]
    if select:
        cmd += ["-k", select]
    if workers:
        cmd += ["-n", str(workers)]
    child_env = dict(os.environ)
    child_env.pop("GENREP_DEFECTS", None)  # defects are explicit on the command line
    child_env["PYTHONIOENCODING"] = "utf-8"
    try:
        if stream:
            proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=child_env, timeout=timeout)
            return RunOutcome(proc.returncode, results_dir, "")
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=child_env, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        raise GenrepError(f"the feature run exceeded its {timeout:.0f} s limit and was stopped") from None
    return RunOutcome(proc.returncode, results_dir, proc.stdout)
