"""The house plan is checked, not hoped for: import-linter's contracts in pyproject.toml (imports only
point down; the library never imports steps, Locust or gevent) hold on the code, and go red on a copy
with one upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genrep.paths import PROJECT_ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    return subprocess.run([str(LINT)], cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy_of_the_code(tmp_path):
    shutil.copytree(PROJECT_ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(copy_of_the_code):
    proc = lint(copy_of_the_code)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize("module,line,broken", [
    ("transport/mllp.py", "from genrep.results.gate import decide  # noqa", "imports point down"),
    ("config/profile.py", "import genrep.transport.http  # noqa", "imports point down"),
    ("text/fidelity/__init__.py", "import steps.catalogue  # noqa", "never imports the step definitions"),
])
def test_an_upward_or_forbidden_import_breaks_them(copy_of_the_code, module, line, broken):
    path = copy_of_the_code / "src" / "genrep" / module
    path.write_text(path.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    proc = lint(copy_of_the_code)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 broken" in proc.stdout and broken in proc.stdout.replace("\n", " ")
