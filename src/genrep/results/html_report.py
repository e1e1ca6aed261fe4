"""The HTML report: Allure 2 results -> one self-contained ``index.html`` that makes no outside calls.

``ensure_allure()`` installs the Allure 2 command line (npm package ``allure-commandline``, which
bundles its jars and runs on the machine's Java) into ``.tools/allure`` once. ``generate()`` turns a
results folder into a report:

* the previous report's ``history/`` is copied into the results first, so the trend graphs carry
  over from one run to the next; afterwards the new history is saved beside the report
  (``<reports>/history``, i.e. ``reports/history`` for the default ``reports/html``);
* ``allure generate --clean --single-file`` runs with ``ALLURE_NO_ANALYTICS=true`` (Allure 2 embeds
  a Google Analytics tag otherwise), JVM options for one short run (``ONE_SHOT_JVM``) and a timeout;
* the generated HTML is checked for outside references: an analytics tag is removed, any other
  ``http(s)://`` resource outside localhost fails the generation. A hospital's report is opened on
  machines that must not call out, and a single file opens from ``file://`` without a server.

Every external step (npm, java) is bounded by a timeout, so report generation can never hang CI.
``allure generate --clean`` empties its output folder, and the history folders are replaced: all
three go through ``genrep.outputs`` first, so only folders genrep owns are ever emptied.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from genrep import outputs
from genrep.paths import PROJECT_ROOT
from genrep.errors import GenrepError

ALLURE_PACKAGE = "allure-commandline"
#: ``allure generate`` is one short JVM run: the client compiler only and the serial collector start
#: it in half the CPU (measured on 2 cores, 179-scenario results: 5.1-5.3 s of CPU with the JVM's
#: defaults, 2.6-2.9 s with these; the same report). Used when the caller sets no JAVA_OPTS.
ONE_SHOT_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"
ALLURE_VERSION = "2.46.1"
TOOLS_DIR = PROJECT_ROOT / ".tools" / "allure"
INSTALL_TIMEOUT = 300.0
GENERATE_TIMEOUT = 300.0

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
ANALYTICS_MARKERS = ("googletagmanager", "google-analytics")
# Elements whose src/href the browser fetches by itself when the page opens.
_FETCHING_TAGS = ("script", "link", "img", "iframe", "source", "embed", "audio", "video", "object")
_TAG_RE = re.compile(r"<(%s)\b([^>]*)>" % "|".join(_FETCHING_TAGS), re.IGNORECASE)
_ATTR_RE = re.compile(r"""\b(src|href|data|poster)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_SCRIPT_BLOCK_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_DATA_SCRIPT_RE = re.compile(r"""src\s*=\s*["']data:[^,"']*;base64,([A-Za-z0-9+/=]+)["']""", re.IGNORECASE)
_EMBEDDED_HISTORY_RE = re.compile(r"""d\(\s*'(history/[A-Za-z0-9._-]+\.json)'\s*,\s*'([A-Za-z0-9+/=]*)'\s*\)""")


# --------------------------------------------------------------------------------------------------
# Installing the Allure command line


def _allure_bin(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / ("allure.cmd" if os.name == "nt" else "allure")


def _installed_version(prefix: Path) -> str | None:
    import json
    pkg = prefix / "node_modules" / ALLURE_PACKAGE / "package.json"
    try:
        return json.loads(pkg.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _install_lock(prefix: Path, timeout: float):
    """An exclusive file lock, so two parallel test workers don't run npm into the same folder."""
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no parallel installs expected
        yield
        return
    with open(prefix.parent / "allure.lock", "w") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise GenrepError(f"another process holds {prefix.parent / 'allure.lock'} "
                                      f"for more than {timeout:.0f} s (an Allure install hanging?)") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _require_java() -> str:
    java = shutil.which("java")
    if java is None and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        java = str(candidate) if candidate.exists() else None
    if java is None:
        raise GenrepError("the HTML report needs Java (8 or newer) to run Allure, and no 'java' is on "
                          "PATH or in JAVA_HOME; install a JRE (e.g. Debian's openjdk-17-jre-headless)")
    return java


def ensure_allure(*, prefix: Path = TOOLS_DIR, timeout: float = INSTALL_TIMEOUT) -> Path:
    """Return the ``allure`` executable, installing allure-commandline@2.46.1 with npm the first time."""
    prefix = Path(prefix)
    _require_java()
    exe = _allure_bin(prefix)
    if exe.exists() and _installed_version(prefix) == ALLURE_VERSION:
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise GenrepError(f"the HTML report needs Allure ({ALLURE_PACKAGE}@{ALLURE_VERSION}), installed "
                          "with npm, and no 'npm' is on PATH; install Node.js with npm")
    with _install_lock(prefix, timeout):
        if exe.exists() and _installed_version(prefix) == ALLURE_VERSION:  # another process won
            return exe
        cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts",
               "--loglevel=error", f"{ALLURE_PACKAGE}@{ALLURE_VERSION}"]
        try:
            proc = subprocess.run(cmd, cwd=prefix, capture_output=True, text=True, errors="replace",
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise GenrepError(f"installing {ALLURE_PACKAGE}@{ALLURE_VERSION} with npm did not finish "
                              f"within {timeout:.0f} s (is the npm registry reachable?)") from None
        if proc.returncode != 0 or not exe.exists():
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise GenrepError(f"installing {ALLURE_PACKAGE}@{ALLURE_VERSION} with npm into {prefix} "
                              f"failed (exit {proc.returncode}):\n{tail}")
    return exe


# --------------------------------------------------------------------------------------------------
# Outside references


def _is_outside(url: str) -> bool:
    url = url.strip().strip("\"'").strip()
    low = url.lower()
    if low.startswith("//"):
        low = "http:" + low
    if not (low.startswith("http://") or low.startswith("https://")):
        return False  # data:, relative paths, #fragments, javascript: ...
    host = (urlsplit(low).hostname or "").rstrip(".")
    return not (host in LOCAL_HOSTS or host == "localhost" or host.endswith(".localhost")
                or host.startswith("127."))


def _embedded_scripts(html: str):
    """Yield the text of scripts embedded as ``data:...;base64,`` (how single-file Allure ships its app)."""
    for m in _DATA_SCRIPT_RE.finditer(html):
        try:
            yield base64.b64decode(m.group(1)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue


def find_outside_references(html: str) -> list[str]:
    """Every outside reference in a report page: ``http(s)://`` resources of script/link/img/iframe
    (and the other fetching elements) to a host other than localhost, and any analytics marker
    (googletagmanager, google-analytics) in the page or in its embedded scripts."""
    found: list[str] = []
    for tag in _TAG_RE.finditer(html):
        for attr in _ATTR_RE.finditer(tag.group(2)):
            value = attr.group(2).strip("\"'")
            if _is_outside(value):
                found.append(f"<{tag.group(1).lower()} {attr.group(1).lower()}={value[:200]}>")
    low = html.lower()
    for marker in ANALYTICS_MARKERS:
        if marker in low and not any(marker in f.lower() for f in found):
            found.append(f"analytics marker '{marker}' in the page")
    for script in _embedded_scripts(html):
        for marker in ANALYTICS_MARKERS:
            if marker in script.lower():
                found.append(f"analytics marker '{marker}' in an embedded script")
    return found


def strip_analytics(html: str) -> tuple[str, int]:
    """Remove Allure's Google Analytics block (the gtag loader and its inline config script).
    Returns the new page and how many script elements were removed."""
    removed = 0

    def _drop(m: re.Match) -> str:
        nonlocal removed
        attrs, body = m.group(1), m.group(2)
        if "base64," in attrs:  # the app itself, never touched here
            return m.group(0)
        probe = (attrs + body[:5000]).lower()
        if any(k in probe for k in ANALYTICS_MARKERS) or "gtag(" in probe or "datalayer" in probe:
            removed += 1
            return ""
        return m.group(0)

    return _SCRIPT_BLOCK_RE.sub(_drop, html), removed


def check_no_outside_calls(page: Path) -> int:
    """Remove analytics from ``page`` in place and fail on any other outside reference.
    Returns the number of analytics elements removed."""
    html = page.read_text(encoding="utf-8")
    if not find_outside_references(html):
        return 0
    cleaned, removed = strip_analytics(html)
    left = find_outside_references(cleaned)
    if left:
        raise GenrepError(f"the HTML report {page} refers to outside resources, and a hospital's report "
                          "must make no outside calls:\n  " + "\n  ".join(left[:20]))
    page.write_text(cleaned, encoding="utf-8")
    return removed


# --------------------------------------------------------------------------------------------------
# History (trends across runs)


def _history_from_report(out_dir: Path) -> dict[str, bytes]:
    """The history files of an existing report: a ``history/`` folder (multi-file report) or the
    ``d('history/...', base64)`` entries embedded in a single-file ``index.html``."""
    files: dict[str, bytes] = {}
    folder = out_dir / "history"
    if folder.is_dir():
        for f in folder.glob("*.json"):
            files[f.name] = f.read_bytes()
        if files:
            return files
    page = out_dir / "index.html"
    if page.is_file():
        for m in _EMBEDDED_HISTORY_RE.finditer(page.read_text(encoding="utf-8", errors="replace")):
            try:
                files[Path(m.group(1)).name] = base64.b64decode(m.group(2))
            except (binascii.Error, ValueError):
                continue
    return files


def _history_from(source: Path) -> dict[str, bytes]:
    source = Path(source)
    if source.is_dir() and (source / "index.html").is_file():
        return _history_from_report(source)
    if source.is_dir():
        return {f.name: f.read_bytes() for f in source.glob("*.json")}
    return {}


def _write_history(files: dict[str, bytes], folder: Path) -> None:
    """Replace Allure's history files in ``folder``; genrep's own verdict records
    (``verdicts/``, ``genrep.results.trend``) are carried over."""
    kept = {f.name: f.read_bytes() for f in (Path(folder) / "verdicts").glob("*.json")} \
        if (Path(folder) / "verdicts").is_dir() else {}
    folder = outputs.clear(folder, what="report history folder")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    if kept:
        trend_dir = outputs.claim(Path(folder) / "verdicts", what="verdict history folder")
        for name, data in kept.items():
            (trend_dir / name).write_bytes(data)


# --------------------------------------------------------------------------------------------------
# Generating


def generate(results_dir: Path, out_dir: Path, *, single_file: bool = True,
             history_from: Path | None = None, history_store: Path | None = None,
             timeout: float = GENERATE_TIMEOUT) -> Path:
    """Generate the HTML report of ``results_dir`` into ``out_dir`` and return its ``index.html``.

    ``history_from``: a previous report folder (or a bare history folder) whose trends to carry on;
    default: ``out_dir``'s own previous report if there is one, else ``history_store``.
    ``history_store``: where the new history is saved for the next run; default
    ``out_dir.parent / "history"`` (``reports/history`` for the default ``reports/html``).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.is_dir() or not any(results_dir.glob("*-result.json")):
        raise GenrepError(f"no Allure results in {results_dir} (run 'genrep rehearse' first)")
    store = Path(history_store) if history_store is not None else out_dir.parent / "history"
    # the results get a history/ folder, the report folder is emptied by --clean, the store replaced
    results_dir = outputs.claim(results_dir, what="Allure results folder")
    outputs.check(out_dir, what="HTML report folder")
    outputs.check(store, what="report history folder")
    exe = ensure_allure()

    # (a) carry the previous history into the results before generating
    if history_from is not None:
        previous = _history_from(Path(history_from))
    else:
        previous = _history_from_report(out_dir) or _history_from(store)
    if previous:
        _write_history(previous, results_dir / "history")

    # (b) generate, no analytics, bounded
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "generate", "--clean", str(results_dir), "-o", str(out_dir)]
    if single_file:
        cmd.insert(3, "--single-file")
    env = dict(os.environ, ALLURE_NO_ANALYTICS="true")
    env.setdefault("JAVA_OPTS", ONE_SHOT_JVM)  # a JAVA_OPTS of the caller's is theirs to keep
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GenrepError(f"'allure generate' did not finish within {timeout:.0f} s") from None
    finally:
        outputs.claim(out_dir, what="HTML report folder")  # --clean removed the marker with the rest
    page = out_dir / "index.html"
    if proc.returncode != 0 or not page.is_file():
        tail = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        raise GenrepError(f"'allure generate' failed (exit {proc.returncode}):\n{tail}")

    # (d) no outside calls: analytics removed, anything else outside is an error
    pages = [page] if single_file else sorted(out_dir.glob("*.html"))
    removed = sum(check_no_outside_calls(p) for p in pages)
    if removed:
        print(f"genrep: removed {removed} analytics element(s) from the HTML report", file=sys.stderr)

    # (c) save the new history for the next run
    history = _history_from_report(out_dir)
    if history:
        _write_history(history, store)
    return page
