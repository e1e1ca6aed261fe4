"""``genrep rehearse --env <bad form>``: exit 2 and one line naming the problem, no traceback, for every
way ``--env`` can fail to name a readable profile. They all fail before anything starts, so each run
takes a fraction of a second; the FIFO case would hang forever if the loader opened it blocking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GENREP = str(Path(sys.executable).parent / "genrep")
PASSWORD = "pa55-in-url-7c1e"


def _forms(tmp: Path) -> dict[str, tuple[str, str]]:
    """form -> (the --env value, a text the message must contain)."""
    (tmp / "dir").mkdir()
    (tmp / "latin1.yaml").write_bytes("name: v\u00e4st\nkind: virtual\n".encode("latin-1"))
    (tmp / "broken.yaml").write_text("name: x\nkind: [virtual\n", encoding="utf-8")
    (tmp / "list.yaml").write_text("- virtual\n- external\n", encoding="utf-8")
    os.mkfifo(tmp / "fifo.yaml")
    (tmp / "loop-a.yaml").symlink_to(tmp / "loop-b.yaml")
    (tmp / "loop-b.yaml").symlink_to(tmp / "loop-a.yaml")
    (tmp / "creds.yaml").write_text(
        "name: creds\nkind: external\nendpoints:\n  ehr_fhir:\n    protocol: http\n"
        f"    base_url: https://harness:{PASSWORD}@fhir.test.example/r4\n", encoding="utf-8")
    return {
        "directory": (str(tmp / "dir"), "is a directory"),
        "missing path with suffix": (str(tmp / "nope.yaml"), "no such profile file"),
        "empty string": ("", "empty"),
        "not UTF-8": (str(tmp / "latin1.yaml"), "not UTF-8"),
        "not YAML": (str(tmp / "broken.yaml"), "invalid YAML"),
        "YAML but not a mapping": (str(tmp / "list.yaml"), "must be a mapping"),
        "FIFO": (str(tmp / "fifo.yaml"), "FIFO"),
        "character device": ("/dev/null", "character device"),
        "name with separators": ("team/staging", "no such profile file"),
        "symlink loop": (str(tmp / "loop-a.yaml"), "symbolic link loop"),
        "credentials in a URL": (str(tmp / "creds.yaml"), "must not carry a user name or password"),
    }


FORMS = ["directory", "missing path with suffix", "empty string", "not UTF-8", "not YAML",
         "YAML but not a mapping", "FIFO", "character device", "name with separators", "symlink loop",
         "credentials in a URL"]


@pytest.mark.parametrize("form", FORMS)
def test_bad_env_form_is_exit_2_with_one_line(tmp_path, form):
    value, expected = _forms(tmp_path)[form]
    proc = subprocess.run([GENREP, "rehearse", "--env", value, "--no-html",
                           "--results", str(tmp_path / "results")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    err = proc.stderr
    assert proc.returncode == 2, (form, proc.returncode, err, proc.stdout)
    assert "Traceback" not in err and "Traceback" not in proc.stdout, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("genrep: configuration error: ") and expected in lines[0], lines[0]
    assert PASSWORD not in err + proc.stdout
    assert not (tmp_path / "results").exists()  # nothing started, nothing written


def test_unreadable_profile_is_exit_2(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("name: x\nkind: virtual\n", encoding="utf-8")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as root: mode 000 does not stop reading, so permission denied cannot be "
                    "provoked here (tests/unit/test_profile_forms.py simulates it)")
    proc = subprocess.run([GENREP, "rehearse", "--env", str(path), "--no-html"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "permission denied" in proc.stderr and "Traceback" not in proc.stderr
