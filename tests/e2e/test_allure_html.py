"""The HTML report: Allure results of a real (small) rehearsal -> one self-contained index.html that
renders in headless Chromium from file:// with every outside host unresolvable, makes no outside
request (Chromium's own net log shows none from the page), and carries its trend to the next run.

Chromium is required, not optional: ``.ci/run`` installs Debian's ``chromium`` when it is missing, and
these tests fail (never skip) with a clear message if it still is."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genrep.results.html_report import find_outside_references, generate, strip_analytics

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  # every name but localhost is unresolvable: an outside call could not succeed
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"]
GA_TAG = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>'

pytestmark = pytest.mark.timeout(600)


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is needed to check the HTML report renders offline, and no 'chromium' is on "
                    "PATH. Install Debian's package: apt-get update && apt-get install -y chromium "
                    "(.ci/run does this when it is missing).", pytrace=False)
    return exe


def _render(page: Path, tmp: Path, fragment: str = "") -> tuple[str, list[str]]:
    """Open ``page`` headless, return (visible text of the rendered DOM, URLs the page itself asked
    the network for). A new empty profile each time; the net log records every request, and requests
    the page starts carry its (opaque file://) origin as initiator, unlike the browser's own."""
    tmp.mkdir(parents=True, exist_ok=True)
    profile, netlog = tmp / "profile", tmp / "netlog.json"
    if profile.exists():
        shutil.rmtree(profile)
    profile.mkdir()
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}",
           "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri() + fragment]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=90,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", proc.stdout, flags=re.S | re.I)
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    return text, _page_requests(netlog)


def _page_requests(netlog: Path) -> list[str]:
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] == start_job and "url" in params and params.get("initiator") != "not an origin":
            urls.append(params["url"])
    return [u for u in urls if not u.startswith(("file:", "data:", "blob:", "http://localhost",
                                                  "http://127.0.0.1"))]


def _embedded(page: Path, name: str):
    m = re.search(r"d\('%s','([A-Za-z0-9+/=]*)'\)" % re.escape(name), page.read_text(encoding="utf-8"))
    assert m, f"{name} is not embedded in {page}"
    return json.loads(base64.b64decode(m.group(1)))


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """A small real rehearsal (RAD-001, clean virtual environment) and its HTML report."""
    root = tmp_path_factory.mktemp("html-report")
    results = root / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "-m", "RAD-001",
                           "--results", str(results), "--no-html"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]  # one requirement: INCOMPLETE, nothing failed
    assert "HTML report:" not in proc.stdout  # --no-html
    scenarios = []
    for f in results.glob("*-result.json"):
        data = json.loads(f.read_text(encoding="utf-8"))
        if not any(label["name"] == "genrep_meta" for label in data.get("labels", ())):
            scenarios.append((data["name"], data["status"]))
    assert scenarios and all(status == "passed" for _, status in scenarios), scenarios
    page = generate(results, root / "html")
    return root, results, page, scenarios


def test_report_is_one_file_without_outside_references(rehearsal):
    root, _, page, _ = rehearsal
    assert page == root / "html" / "index.html" and page.is_file()
    html = page.read_text(encoding="utf-8")
    assert find_outside_references(html) == []
    assert "googletagmanager" not in html.lower() and "google-analytics" not in html.lower()
    assert (root / "history" / "history.json").is_file()  # saved beside the report for the next run


def test_report_renders_offline_and_makes_no_outside_request(rehearsal, tmp_path):
    _, _, page, scenarios = rehearsal
    text, requests = _render(page, tmp_path / "overview")
    assert requests == [], f"the report asked the network for: {requests}"
    total = len(list(rehearsal[1].glob("*-result.json")))  # scenarios and genrep's own entries
    assert f"{total} test cases" in text, text[:2000]
    # a one-requirement selection is INCOMPLETE: the overview leads with the verdict, which fails (and the
    # readiness item with it), so the ring can never read 100 % on a run that cannot go live
    assert "Go-live verdict" in text and "100%" not in text, text[:2000]

    text, requests = _render(page, tmp_path / "suites", "#suites")
    assert requests == []
    for name, _ in scenarios:
        assert name in text, f"scenario {name!r} not shown in the rendered Suites page: {text[:2000]}"


def test_net_log_check_catches_a_planted_analytics_tag(rehearsal, tmp_path):
    """The "no request" check above is not vacuous: the same check on a copy with Allure's analytics
    loader planted back in sees the page ask for googletagmanager.com."""
    _, _, page, _ = rehearsal
    planted = tmp_path / "planted" / "index.html"
    planted.parent.mkdir()
    planted.write_text(page.read_text(encoding="utf-8").replace("</body>", GA_TAG + "\n</body>", 1),
                       encoding="utf-8")
    _, requests = _render(planted, tmp_path / "run")
    assert any("googletagmanager.com" in u for u in requests), requests


def test_trend_carries_to_the_next_report(rehearsal, tmp_path):
    root, results, _, scenarios = rehearsal
    out = tmp_path / "html"
    first = generate(results, out, history_from=root / "html")
    trend = _embedded(first, "history/history-trend.json")
    assert len(trend) == 2, trend  # this run and the one before it
    assert trend[0]["data"]["passed"] >= len(scenarios)
    second = generate(results, out)  # default: out's own previous report
    assert len(_embedded(second, "history/history-trend.json")) == 3
    assert len(json.loads((tmp_path / "history" / "history-trend.json").read_text(encoding="utf-8"))) == 3


# -- the outside-reference scanner (no Allure, no browser) -----------------------------------------

def test_scanner_finds_planted_analytics_and_ignores_localhost():
    html = ("<html><head>" + GA_TAG +
            '<script src="http://localhost:8080/app.js"></script>'
            '<link rel="stylesheet" href="http://127.0.0.1/x.css">'
            '<img src="data:image/png;base64,AAAA"><a href="https://example.org/docs">docs</a>'
            "</head></html>")
    found = find_outside_references(html)
    assert len(found) == 1 and "www.googletagmanager.com" in found[0], found
    cleaned, removed = strip_analytics(html)
    assert removed == 1 and find_outside_references(cleaned) == []
    assert "http://localhost:8080/app.js" in cleaned


@pytest.mark.parametrize("tag", [
    '<script src="https://cdn.example.com/x.js"></script>',
    "<link rel=stylesheet href=https://fonts.googleapis.com/css>",
    "<img src='http://tracker.example.net/p.gif'>",
    '<iframe src="//evil.example/frame"></iframe>',
])
def test_scanner_finds_other_outside_resources(tag):
    assert find_outside_references(f"<html><body>{tag}</body></html>"), tag


def test_scanner_looks_inside_embedded_scripts():
    js = base64.b64encode(b"var s='https://www.google-analytics.com/analytics.js';").decode()
    html = f'<script src="data:text/javascript; charset=utf-8;base64,{js}"></script>'
    assert any("google-analytics" in f for f in find_outside_references(html))
