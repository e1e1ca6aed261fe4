"""``genrep lint`` as its command runs it, in this process: the paths resolved against the working
folder, findings shown relative to it, the step layer's ``steps.lint`` behind the same guard (exit 2
with a message when the steps or the files cannot be loaded).

Why not the command itself: each run was two new interpreters (``genrep.cli`` starting
``python -m steps.lint``), about 0.65 s of CPU, and the unit tests ran it 17 times. The command's own
path (a subprocess from the project root, its exit code and its output) is still run for real by
``test_lint_hints.test_the_repository_features_have_no_findings`` and
``test_lint_refusals.test_errors_only_leaves_warnings_out``.
"""

from __future__ import annotations

import contextlib
import io
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
