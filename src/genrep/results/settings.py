"""Report settings (gate.yaml ``report:``): the language of the summary and scorecard, and the base of
requirement links. Each can be overridden by the environment (``GENREP_LANG``,
``GENREP_REQUIREMENT_URL``) and the language by ``--lang``.

Requirement links must work from ``reports/html`` and from a CI artifact downloaded elsewhere, so
they are absolute: ``GENREP_REQUIREMENT_URL`` or ``report.requirement_url`` (``{id}`` is replaced by
the requirement id), else the repository's web address at this commit when CI says where that is
(GitHub: ``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``/``GITHUB_SHA``; GitLab: ``CI_PROJECT_URL``/
``CI_COMMIT_SHA``), else a ``file://`` URL of this checkout's ``contracts/requirements.yaml``.

Manual results (gate.yaml ``manual:``, ``genrep.results.manual``): ``max_age_days`` (default 30), the
age past which a manual result is stale: a stale pass verifies nothing (the run is INCOMPLETE until
it is retested), a stale failure still fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

LANGUAGES = ("en", "sv")


@dataclass(frozen=True)
class ReportSettings:
    lang: str = "en"
    requirement_url: str = ""  # with {id}; empty: derived (see the module's text)
    manual_max_age_days: int = 30  # gate.yaml manual.max_age_days


@lru_cache(maxsize=4)
def _from_file(path: str) -> ReportSettings:
    try:
        d = load_yaml(path)
    except ConfigError:
        raise
    except OSError:
        return ReportSettings()
    max_age = _manual_max_age(d, path)
    section = d.get("report") if isinstance(d, dict) else None
    if section is None:
        return ReportSettings(manual_max_age_days=max_age)
    if not isinstance(section, Located):
        raise ConfigError("expected a mapping (lang, requirement_url)", file=path, key="report",
                          line=d.line_of("report"))
    reject_unknown(section, {"lang", "requirement_url"}, where="report")
    lang = require(section, "lang", str, where="report", default="en", choices=LANGUAGES)
    url = require(section, "requirement_url", str, where="report", default="") or ""
    if url and "{id}" not in url:
        raise ConfigError("must contain {id} (replaced by the requirement id)", file=path,
                          key="report.requirement_url", line=section.line_of("requirement_url"))
    return ReportSettings(lang, url, max_age)


def _manual_max_age(d, path: str) -> int:
    section = d.get("manual") if isinstance(d, dict) else None
    if section is None:
        return ReportSettings.manual_max_age_days
    if not isinstance(section, Located):
        raise ConfigError("expected a mapping (max_age_days)", file=path, key="manual", line=d.line_of("manual"))
    reject_unknown(section, {"max_age_days"}, where="manual")
    days = require(section, "max_age_days", int, where="manual", default=ReportSettings.manual_max_age_days)
    if isinstance(days, bool) or days < 1:
        raise ConfigError(f"must be a whole number of days, 1 or more; got {days!r}", file=path,
                          key="manual.max_age_days", line=section.line_of("max_age_days"))
    return days


def manual_max_age_days(path=None) -> int:
    """gate.yaml ``manual.max_age_days``: how old a manual result may be before it is stale."""
    return report_settings(path).manual_max_age_days


def report_settings(path=None) -> ReportSettings:
    return _from_file(str(path or CONTRACTS_DIR / "gate.yaml"))


def language(explicit: str | None = None, path=None) -> str:
    """``--lang``, else ``GENREP_LANG``, else gate.yaml's ``report.lang``, else en."""
    for value, where in ((explicit, "--lang"), (os.environ.get("GENREP_LANG"), "GENREP_LANG")):
        if value:
            if value not in LANGUAGES:
                raise ConfigError(f"{where} {value!r}: must be one of {', '.join(LANGUAGES)}")
            return value
    return report_settings(path).lang


def requirement_url_template(path=None) -> str:
    env = os.environ.get("GENREP_REQUIREMENT_URL")
    if env:
        return env
    try:
        configured = report_settings(path).requirement_url
    except ConfigError:
        configured = ""  # the gate reports a bad gate.yaml; a link never stops a run
    if configured:
        return configured
    e = os.environ
    if e.get("GITHUB_SERVER_URL") and e.get("GITHUB_REPOSITORY") and e.get("GITHUB_SHA"):
        return (f"{e['GITHUB_SERVER_URL']}/{e['GITHUB_REPOSITORY']}/blob/{e['GITHUB_SHA']}"
                "/contracts/requirements.yaml#{id}")
    if e.get("CI_PROJECT_URL") and e.get("CI_COMMIT_SHA"):
        return f"{e['CI_PROJECT_URL']}/-/blob/{e['CI_COMMIT_SHA']}/contracts/requirements.yaml#{{id}}"
    return (CONTRACTS_DIR / "requirements.yaml").resolve().as_uri() + "#{id}"
