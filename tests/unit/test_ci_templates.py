"""docs/ci/ templates: exit 5 (GO WITH RECORDED DEVIATIONS) passes only with the explicit opt-in
variable GENREP_ACCEPT_DEVIATIONS=true, every other verdict keeps its exit code, and junit.xml is
published as the pipeline's test report. The templates' own shell is run with a stand-in genrep."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from genrep.paths import PROJECT_ROOT

CI = PROJECT_ROOT / "docs" / "ci"


def release_script(file: str) -> str:
    data = yaml.safe_load((CI / file).read_text(encoding="utf-8"))
    if file == "github-actions.yml":
        steps = data["jobs"]["rehearse"]["steps"]
        return next(s["run"] for s in steps if "release gate" in s.get("name", ""))
    return "\n".join(data["rehearse"]["script"])


@pytest.mark.parametrize("file", ["github-actions.yml", "gitlab-ci.yml"])
@pytest.mark.parametrize("verdict_code, opt_in, expected", [
    (0, "", 0), (1, "", 1), (4, "", 4), (2, "", 2),
    (5, "", 5),            # GO WITH RECORDED DEVIATIONS without the opt-in: the job fails
    (5, "yes", 5),         # only the exact opt-in counts
    (5, "true", 0),        # opted in: accepted, and said so
    (1, "true", 1), (4, "true", 4),  # the opt-in accepts exit 5 only
])
def test_exit_5_passes_only_with_the_explicit_opt_in(tmp_path, file, verdict_code, opt_in, expected):
    script = release_script(file).replace(".venv/bin/genrep", "genrep_stand_in")
    assert "genrep_stand_in rehearse" in script and "GENREP_ACCEPT_DEVIATIONS" in script
    stand_in = f"genrep_stand_in() {{ echo \"VERDICT: stand-in\"; return {verdict_code}; }}\n"
    env = {k: v for k, v in os.environ.items() if k != "GENREP_ACCEPT_DEVIATIONS"}
    if opt_in:
        env["GENREP_ACCEPT_DEVIATIONS"] = opt_in
    proc = subprocess.run(["bash", "-c", stand_in + script], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == expected, proc.stdout + proc.stderr
    if verdict_code == 5:
        assert ("accepted" if expected == 0 else "is not a GO") in proc.stdout


def test_junit_xml_is_published_as_the_test_report():
    gh = yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))
    report = next(s for s in gh["jobs"]["rehearse"]["steps"] if "junit" in str(s.get("uses", "")))
    assert report["with"]["report_paths"] == "reports/junit.xml" and report["if"] == "always()"
    gl = yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))
    assert gl[".genrep"]["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert gl[".genrep"]["artifacts"]["when"] == "always"
