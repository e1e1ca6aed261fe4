"""Fixtures and hooks for the feature suite (run by ``genrep rehearse`` / ``genrep selftest``).

The environment comes from the profile (``--env`` / ``GENREP_ENV``); for the virtual profile the
simulators are started here, once per test session (per xdist worker), and always stopped.
Requirement tags (``@RAD-R01``) are checked against the catalogue, registered as markers and
mapped to Allure links, labels and severity.

Outages are not defects: a scenario that fails because its endpoint cannot be reached (refused,
timed out, host not found: ``genrep.preflight.is_unavailability``) is classified
``environment_unavailable`` and recorded in the run's outage latch (``genrep.preflight.OutageLatch``,
a file shared by every process of the suite); once an endpoint has failed ``BLOCK_AFTER`` scenarios in
a row, the remaining scenarios that need it fail at once, "blocked, not attempted". ``--name``
(``GENREP_SCENARIO_NAME``) keeps the scenarios whose title contains the text; ``GENREP_SCENARIO_LIST``
names a file the selected scenarios are written to (``genrep rehearse --list``).

SIGTERM (what ``genrep rehearse`` sends its suite when it is interrupted, and what CI cancel and
``timeout`` send) is turned into KeyboardInterrupt, so pytest ends the session the Ctrl-C way and
the session fixture's teardown stops the simulators. Started by ``genrep rehearse``, the suite also
stops by itself when the harness that started it disappears (even after SIGKILL).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import json

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from genrep import preflight
from genrep.cli.interrupts import deferred_where_swallowed
from genrep.config.profile import load_profile
from genrep.config.contracts import load_catalogue, load_radiology
from genrep.faults import driver_for
from genrep.text.identities import Allowlist, IdentityGuard, refusal
from genrep.integrations.radiology import RadiologyClient
from genrep.results.allure import label_scenario
from genrep.sim.process import start_virtual_environment

from . import bdd_lookup

bdd_lookup.install()  # pytest-bdd's step lookup, the cheap question first (steps/bdd_lookup.py)

from .access_steps import *  # noqa: E402,F401,F403
from .erx_steps import *  # noqa: F401,F403
from .generated_steps import *  # noqa: F401,F403
from .journey_steps import *  # noqa: F401,F403  (registers the step fixtures)
from .medication_steps import *  # noqa: F401,F403
from .multum_steps import *  # noqa: F401,F403
from .parity_steps import *  # noqa: F401,F403
from .patient_steps import *  # noqa: F401,F403
from .radiology_steps import *  # noqa: F401,F403
from .referral_steps import *  # noqa: F401,F403

INTEGRATION_TAGS = {
    "radiology": "radiology results RIS -> EHR (HL7 ORU over MLLP, FHIR read-back)",
    "nll": "national medication list NLL -> EHR medication list (FHIR R4)",
    "multum": "drug-interaction checks EHR -> Multum through a load balancer (failover, fail-safe)",
    "negative": "negative path: the integration misbehaves or gets bad input",
    "happy": "happy path",
    "registration": "patient registration and encounters (HL7 ADT)",
    "referrals": "referrals sent through the EHR to another unit, and the sender's feedback (FHIR ServiceRequest, Task)",
    "erx": "e-prescriptions signed with the prescriber's SITHS card and sent to the receiver (contracts/erx.yaml)",
    "access": "access rights as a matrix: role x action, allowed or refused explicitly (contracts/access.yaml)",
    "parity": "like-for-like entry points: every node, desktop pool or member alike (contracts/parity.yaml)",
    "journey": "end-to-end patient journey across integrations",
    "wip": "work in progress: excluded from the rehearsal",
}


def pytest_addoption(parser):
    group = parser.getgroup("genrep")
    group.addoption("--env", default=None, help="environment profile (default: GENREP_ENV or 'virtual')")
    group.addoption("--defect", action="append", default=None,
                    help="virtual environment defect to switch on (repeatable)")


def _interrupt_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt once (pytest then tears its fixtures down); a second one
    while tearing down is ignored, so the teardown is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _on_sigterm(signum, frame):
        if deferred_where_swallowed(signum, frame):  # in a gc callback or __del__: in a moment
            return
        signal.signal(signal.SIGTERM, lambda *_: None)
        raise KeyboardInterrupt(f"stopped by signal {signum} (SIGTERM)")

    signal.signal(signal.SIGTERM, _on_sigterm)


def _stop_when_harness_disappears(poll: float = 0.5) -> None:
    """If the harness that started this suite (``GENREP_SUITE_PARENT_PID``, set by
    ``genrep.rehearsal``) is gone, stop the way SIGTERM stops the suite. Only in the process the harness
    started itself (pytest-xdist workers have that process as their parent)."""
    try:
        harness = int(os.environ.get("GENREP_SUITE_PARENT_PID", ""))
    except ValueError:
        return
    if os.getppid() != harness:
        return

    def watch():
        while os.getppid() == harness:
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="genrep-harness-watch", daemon=True).start()


def pytest_configure(config):
    _interrupt_on_sigterm()
    _stop_when_harness_disappears()
    catalogue = load_catalogue()
    config._genrep_catalogue = catalogue
    for rid, req in catalogue.items():
        config.addinivalue_line("markers", f"{rid}: {req.title}")
    for tag, text in INTEGRATION_TAGS.items():
        config.addinivalue_line("markers", f"{tag}: {text}")


def _scenario_of(item):
    return scenario_wrapper_template_registry.get(getattr(item, "function", None))


def _tags_of(item) -> set[str]:
    template = _scenario_of(item)
    tags = {m.name for m in item.iter_markers()}
    if template is not None:
        tags |= set(template.tags) | set(template.feature.tags)
    return tags


def _needed_endpoints(item) -> list[str]:
    """The endpoint names the scenario talks to (by its integration tags; none known: all)."""
    names: dict[str, None] = {}
    for tag in sorted(_tags_of(item)):
        names.update(dict.fromkeys(preflight.INTEGRATION_ENDPOINTS.get(tag, ())))
    if not names:
        profile = getattr(item.config, "_genrep_profile", None)
        for group in preflight.INTEGRATION_ENDPOINTS.values():
            names.update(dict.fromkeys(group))
        if profile is not None:
            names.update(dict.fromkeys(profile.endpoints))
    return list(names)


def _outage_latch(config) -> preflight.OutageLatch:
    latch = getattr(config, "_genrep_outages", None)
    if latch is None:
        latch = config._genrep_outages = preflight.OutageLatch()
    return latch


def pytest_collection_modifyitems(config, items):
    """``--name``: only the scenarios whose title contains the text (casefolded; spaces and å, ä, ö
    as typed), matched against the scenario title, not pytest's test name."""
    wanted = os.environ.get("GENREP_SCENARIO_NAME", "").strip()
    if not wanted:
        return
    keep, drop = [], []
    for item in items:
        template = _scenario_of(item)
        title = template.name if template is not None else item.name
        (keep if wanted.casefold() in title.casefold() else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session):
    """``GENREP_SCENARIO_LIST``: the selected scenarios, as JSON (title, feature, line, tags,
    requirement ids, node id), for ``genrep rehearse --list`` and the pre-flight."""
    path = os.environ.get("GENREP_SCENARIO_LIST")
    if not path:
        return
    catalogue = session.config._genrep_catalogue
    out = []
    for item in session.items:
        template = _scenario_of(item)
        tags = sorted(_tags_of(item) - {"parametrize", "usefixtures"})
        out.append({"title": template.name if template is not None else item.name,
                    "feature": ("features/" + template.feature.rel_filename.replace(os.sep, "/")
                                if template is not None else str(item.path)),
                    "line": template.line_number if template is not None else 0,
                    "tags": [t for t in tags if t not in catalogue],
                    "requirements": [t for t in tags if t in catalogue], "nodeid": item.nodeid})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=False)


#: frames of the test machinery, never of a step or of genrep: hidden from a failure's traceback
_MACHINERY = ("/_pytest/", "/pluggy/", "/pytest_bdd/")


def _hide_machinery(item, excinfo) -> None:
    """Drop pytest's, pluggy's and pytest-bdd's own frames from a failure's traceback (pytest prints
    ``fixture_result = fixturefunc(**kwargs)`` from ``_pytest/fixtures.py`` above every failing step
    otherwise), before the report is made: the terminal and the report's traceback (which
    allure-pytest-bdd saves as ``statusDetails.trace``) then start at the step definition, file:line,
    with the library frames below it. A traceback with nothing but machinery is kept as it is (never
    emptied), and ``--fulltrace`` keeps everything."""
    if excinfo is None or item.config.getoption("fulltrace", False):
        return
    kept = excinfo.traceback.filter(
        lambda entry: not any(part in str(entry.path).replace(os.sep, "/") for part in _MACHINERY))
    if len(kept):
        excinfo.traceback = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A scenario that could not reach its endpoint is marked ``environment_unavailable`` (before
    the report and Allure read the exception) and recorded in the outage latch; one that ran to an
    outcome of its own records its endpoints as reachable. Its traceback loses pytest's own frames
    (``_hide_machinery``).

    A refused identity stops the run: no further scenario starts (and none could send: the
    transports refuse everything once a refusal is recorded, in every process of the run)."""
    _hide_machinery(item, call.excinfo)
    if call.when == "call":
        exc = call.excinfo.value if call.excinfo is not None else None
        profile = getattr(item.config, "_genrep_profile", None)
        if isinstance(exc, preflight.EnvironmentUnavailableError):
            pass  # blocked by the latch: already classified and recorded
        elif exc is not None and preflight.is_unavailability(exc):
            names = preflight.endpoints_in(profile, str(exc)) if profile is not None else []
            names = names or _needed_endpoints(item)
            preflight.mark_unavailable(exc, names)
            _outage_latch(item.config).record(names, down=True, text=str(exc))
        elif exc is None or not isinstance(exc, (KeyboardInterrupt, pytest.skip.Exception)):
            _outage_latch(item.config).record(_needed_endpoints(item), down=False)
    yield
    earlier = refusal()
    if earlier is not None and not item.session.shouldstop:
        item.session.shouldstop = f"identity refused, the run stops: {earlier}"


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_scenario(request, feature, scenario):
    catalogue = request.config._genrep_catalogue
    # markers, not scenario.tags: Examples-level tags (one requirement per Examples block) are
    # applied to their rows as markers only
    tags = {m.name for m in request.node.iter_markers()} | set(scenario.tags) | set(feature.tags)
    reqs = [catalogue[t] for t in sorted(tags) if t in catalogue]
    label_scenario(reqs)
    # an endpoint that failed the last scenarios as unreachable: this one is not attempted
    blocked = _outage_latch(request.config).blocked_error(_needed_endpoints(request.node))
    if blocked is not None:
        raise blocked


@pytest.fixture(scope="session")
def catalogue(request):
    return request.config._genrep_catalogue


@pytest.fixture(scope="session")
def environment(request):
    """The selected profile, with live endpoints (starts and stops the virtual environment)."""
    defects = request.config.getoption("--defect")
    profile = load_profile(request.config.getoption("--env"),
                           defects=tuple(defects) if defects is not None else None)
    if profile.kind != "virtual":
        request.config._genrep_profile = profile  # outage classification: the endpoints' addresses
        yield profile
        return
    venv = start_virtual_environment(profile)
    request.config._genrep_venv = venv  # fault drivers restart killed simulators through it
    request.config._genrep_profile = venv.profile
    try:
        yield venv.profile
    finally:
        venv.stop()


@pytest.fixture(scope="session")
def virtual_environment(environment, request):
    """The running VirtualEnvironment (None against an external profile)."""
    return getattr(request.config, "_genrep_venv", None)


@pytest.fixture(scope="session")
def fault_driver(environment, virtual_environment):
    """The one way steps inject runtime faults (genrep.faults: the simulators' admin API, or the
    command / Toxiproxy driver of an external profile's ``faults`` section), into Multum and NLL."""
    return driver_for(environment, virtual_environment)


@pytest.fixture(scope="session")
def radiology_contract():
    return load_radiology()


@pytest.fixture(scope="session")
def allowlist():
    return Allowlist.load()


@pytest.fixture(scope="session")
def identity_guard(allowlist):
    return IdentityGuard(allowlist)


@pytest.fixture(scope="session")
def radiology_client(environment, radiology_contract, identity_guard):
    """The EHR's inbound MLLP (ADT, ORU) and FHIR read-back, for one environment."""
    client = RadiologyClient(environment, radiology_contract, identity_guard)
    yield client
    client.close()
