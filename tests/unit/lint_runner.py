"""``genrep lint`` as its command runs it, in this process: the paths resolved against the working
folder, findings shown relative to it, the step layer's ``steps.lint`` behind the same guard (exit 2
with a message when the steps or the files cannot be loaded).

Why not the command itself: each run was two new interpreters (``genrep.cli`` starting
``python -m steps.lint``), about 0.65 s of CPU, and the unit tests ran it 17 times. The command's own
path (``run_command``: a subprocess of ``genrep lint`` run from the test's folder, its exit codes 0,
1 and 2, its findings shown relative to that folder, its summary on stderr) is still run for real
by ``test_lint.py``'s planted-mistakes fixture and missing-path test and by
``test_lint_hints.test_the_repository_features_have_no_findings``.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from genrep.paths import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:  # the step layer is a folder of the project, not an installed package
    sys.path.insert(0, str(PROJECT_ROOT))


@dataclass
class LintRun:
    """What the command would give: its exit code, its stdout (the findings) and stderr (the summary)."""
    returncode: int
    stdout: str
    stderr: str


def run_lint(*paths, cwd: Path) -> LintRun:
    """``genrep lint PATHS...`` run in folder ``cwd`` (no paths: the project's features/)."""
    from steps import lint as steps_lint
    from steps._cli import guarded

    cwd = Path(cwd).resolve()
    argv = ["--display-root", str(cwd), *[str((cwd / Path(p)).resolve()) for p in map(str, paths)]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = guarded(lambda: steps_lint.main(argv))
    return LintRun(code, out.getvalue(), err.getvalue())


def run_command(*paths, cwd: Path) -> LintRun:
    """``genrep lint PATHS...`` itself, a new process run in folder ``cwd``."""
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "lint", *map(str, paths)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    return LintRun(proc.returncode, proc.stdout, proc.stderr)
