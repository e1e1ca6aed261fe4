"""Output folders genrep owns: the only folders it ever clears or writes a run's files into.

A run used to start by deleting its results folder, whatever it held: ``--results features``
deleted every feature file. Now a folder is genrep's, and may be cleared, only when

1. it does not exist yet, or is empty (genrep creates it and marks it);
2. it carries genrep's marker file ``.genrep-output`` (written whenever genrep creates or claims a
   folder; it says in words that the folder is output and may be emptied);
3. it lies inside a folder that carries the marker, or strictly inside the project's ``reports/``
   folder (output only and git-ignored, README.md); or
4. it holds nothing but what an earlier genrep run wrote before markers existed: Allure result
   files (``*-result.json``, ``*-container.json``, ``*-attachment*``, ``environment.properties``,
   ``categories.json``, ``executor.json``), a ``history/`` folder of ``*.json``, or a single-file
   Allure report (``index.html`` that names Allure).

Anything else is refused with a ``ConfigError`` (exit 2) naming the folder and what is in it, and
nothing is deleted. The project itself is never an output folder: its root, any folder that
contains it, ``reports/`` itself (it holds a tracked README) and the source folders (``src/``,
``steps/``, ``features/``, ``contracts/``, ``environments/``, ``fixtures/``, ``load/``, ``tests/``,
``docs/``, ``bench/``, ``.git/``, ``.venv/``, ``.tools/``) and everything inside them are refused
even when empty.

``check`` only judges (callers use it to refuse before anything starts), ``claim`` creates and marks
a folder a run writes into without emptying it, ``clear`` empties it (keeping the marker). Each
returns the folder as given (a ``Path``), so messages keep the user's spelling of it.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path

from genrep.paths import PROJECT_ROOT
from genrep.errors import ConfigError

MARKER = ".genrep-output"
MARKER_TEXT = ("This folder is an output folder of genrep (go-live dress rehearsal harness).\n"
               "genrep wrote it and may delete everything in it on its next run:\n"
               "do not keep your own files here.\n")

#: Folders of the project that hold sources, data or tools: never an output folder.
PROJECT_FOLDERS = ("src", "steps", "features", "contracts", "environments", "fixtures", "load", "tests",
                   "docs", "bench", ".git", ".venv", ".tools")
REPORTS = "reports"

#: What an Allure results folder written before markers existed may hold (file names).
LEGACY_RESULT_FILES = ("*-result.json", "*-container.json", "*-attachment", "*-attachment.*",
                       "environment.properties", "categories.json", "executor.json")
_SHOWN = 5  # foreign entries named in a refusal


def _resolved(folder: str | os.PathLike) -> Path:
    return Path(folder).expanduser().resolve()


def _within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def project_folder_reason(folder: Path, project_root: Path = PROJECT_ROOT) -> str | None:
    """Why ``folder`` (resolved) is part of the project and can never be an output folder, or None."""
    root = project_root.resolve()
    if folder == root:
        return "it is the project's root folder"
    if folder in root.parents:
        return f"it contains the project ({root})"
    if folder == root / REPORTS:
        return ("it is the project's reports/ folder itself (it holds the tracked reports/README.md); "
                "use a folder inside it, such as reports/allure-results")
    for name in PROJECT_FOLDERS:
        if _within(folder, root / name):
            return f"it is {'' if folder == root / name else 'inside '}the project's {name}/ folder"
    return None


def _owned_by_location(folder: Path, project_root: Path) -> bool:
    """Inside a marked folder, or strictly inside the project's reports/ folder."""
    reports = project_root.resolve() / REPORTS
    if reports in folder.parents:
        return True
    return any((parent / MARKER).is_file() for parent in folder.parents)


def _names_allure(page: Path) -> bool:
    try:
        with open(page, "rb") as fh:
            return b"allure" in fh.read(8192).lower()
    except OSError:
        return False


def _legacy_foreign(folder: Path) -> list[str]:
    """The entries of ``folder`` that an earlier genrep run would not have written (rule 4)."""
    foreign = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if entry.is_symlink():
            foreign.append(name)
        elif entry.is_dir():
            if name != "history" or any(not (f.is_file() and not f.is_symlink() and f.suffix == ".json")
                                        for f in entry.iterdir()):
                foreign.append(name + "/")
        elif not any(fnmatch.fnmatchcase(name, pattern) for pattern in LEGACY_RESULT_FILES):
            if not (name == "index.html" and _names_allure(entry)):
                foreign.append(name)
    return foreign


def check(folder: str | os.PathLike, *, what: str = "output folder",
          project_root: Path = PROJECT_ROOT) -> Path:
    """``folder`` if genrep may clear and write it (see the module's rules); otherwise a ConfigError
    that names the folder and why. Changes nothing."""
    path = _resolved(folder)
    shown = str(folder)
    reason = project_folder_reason(path, project_root)
    if reason:
        raise ConfigError(f"{what} {shown} ({path}): refused, {reason}; genrep clears its output "
                          "folders, so choose a new folder, for example one inside reports/")
    if not path.exists():
        if path.is_symlink():
            raise ConfigError(f"{what} {shown}: refused, it is a broken symbolic link")
        return Path(folder)
    if not path.is_dir():
        raise ConfigError(f"{what} {shown}: refused, it is a file, not a folder")
    if (path / MARKER).is_file() or _owned_by_location(path, project_root):
        return Path(folder)
    foreign = _legacy_foreign(path)
    if foreign:
        listed = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
        raise ConfigError(f"{what} {shown}: refused, it holds files genrep did not write ({listed}) and no "
                          f"{MARKER} marker, and genrep clears its output folders; nothing was deleted. "
                          "Choose a new or empty folder, or empty this one yourself")
    return Path(folder)


def _mark(path: Path) -> None:
    marker = path / MARKER
    if not marker.is_file():
        marker.write_text(MARKER_TEXT, encoding="utf-8")


def claim(folder: str | os.PathLike, *, what: str = "output folder",
          project_root: Path = PROJECT_ROOT) -> Path:
    """Check ``folder``, create it if needed and mark it as genrep's; nothing in it is deleted.
    For folders a run adds files to (load statistics, Allure results of ``load``/``certs check``)."""
    check(folder, what=what, project_root=project_root)
    path = _resolved(folder)
    path.mkdir(parents=True, exist_ok=True)
    _mark(path)
    return Path(folder)


def clear(folder: str | os.PathLike, *, what: str = "output folder",
          project_root: Path = PROJECT_ROOT) -> Path:
    """Check ``folder``, then empty it (the marker stays) or create it, and mark it as genrep's."""
    check(folder, what=what, project_root=project_root)
    path = _resolved(folder)
    if path.is_dir():
        for entry in path.iterdir():
            if entry.name == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    _mark(path)
    return Path(folder)


def check_file(path: str | os.PathLike, *, signature: str, what: str = "output file") -> Path:
    """``path`` if genrep may write it: it does not exist, or it starts with ``signature`` (what
    genrep writes there), or it sits in a folder genrep owns. Otherwise a ConfigError, and the file
    is left as it is. For the verdict files written beside a results folder (``summary.md`` ...):
    ``--results ~/allure-results`` must not overwrite a ``~/summary.md`` of someone else's."""
    p = _resolved(path)
    if not p.exists() and not p.is_symlink():
        return Path(path)
    if p.is_symlink() or not p.is_file():
        raise ConfigError(f"{what} {path}: refused, it is a link or not a regular file; nothing was changed")
    if (p.parent / MARKER).is_file() or _owned_by_location(p.parent, PROJECT_ROOT):
        return Path(path)
    with open(p, "rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace")
    if signature in head:
        return Path(path)
    raise ConfigError(f"{what} {path}: refused, it exists and genrep did not write it; nothing was changed. "
                      "Choose a --results folder inside a folder of its own")
