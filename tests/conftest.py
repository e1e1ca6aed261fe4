"""Shared for every test: an identity refusal stops a run (a process-wide latch, see
``genrep.text.identities``); each test is its own run, so the latch is cleared after each one."""

from __future__ import annotations

import pytest
from support import fewer_examples

from genrep.text import identities


@pytest.fixture(autouse=True)
def _fresh_identity_latch(monkeypatch):
    monkeypatch.delenv(identities.LATCH_ENV, raising=False)
    identities.reset_refusals()
    yield
    identities.reset_refusals()
    identities.install_outbound_guard(None)


# -- scheduling for pytest-xdist (`make test`: -n 6 --dist loadgroup --no-loadscope-reorder) ----------
#
# The suite mostly waits (subprocesses, simulators, timeouts), so `make test` runs more workers than
# cores. Two things keep that packed and fair, and neither changes what a test checks:
#
# - the longest tests start first (a 90 s test that starts last is a 90 s tail): the tests below, in
#   this order, come before every other test; the rest keep pytest's order;
# - tests that must not be split across workers form one work unit (one worker runs them, in order):
#   a module whose module-scoped fixture is an expensive setup (simulators, a rehearsal) makes it
#   once instead of once per worker; files that share a session fixture share its one run; and the
#   Locust runs that judge latency SLAs never run at the same time as each other.
#
# The groups are applied by the scheduler below (``--dist loadgroup``), from node ids: pytest-xdist's
# own ``xdist_group`` marks are not seen under pytest 9 (xdist 3.8 renames ``item._nodeid``, which
# pytest 9 no longer reads). Without ``--dist loadgroup`` only the order applies.

LONG_FIRST = (
    "tests/e2e/test_selftest.py",
    "tests/e2e/test_rehearse.py::test_clean_rehearsal_without_load_is_incomplete_never_go",
    "tests/e2e/test_load_smoke.py",
    "tests/e2e/test_load_failover.py",
    "tests/e2e/test_load_tls.py",
    "tests/e2e/test_tls_rehearse.py",
    "tests/e2e/test_secrets_redaction.py",
    "tests/e2e/test_sigterm.py",
    "tests/e2e/test_tls_material_cleanup.py",
    "tests/e2e/test_blackhole_suite_bound.py",
    "tests/e2e/test_allure_html.py",
    "tests/e2e/test_load_redirects.py",
    "tests/e2e/test_unreachable.py",
    "tests/e2e/test_bench_load.py",
    "tests/e2e/",
    "tests/sim/test_no_data_lost.py",
    "tests/sim/test_multum.py",
    "tests/sim/test_ehr_medications.py",
    "tests/sim/test_ehr_prescribing.py",
    "tests/sim/test_tls_transport.py",
    "tests/sim/",
)

#: Locust runs whose verdict is a latency SLA (p95/p99, recovery time): one at a time
SLA_LOAD_RUNS = "sla-load-runs"
MODULE = "module"  # the test's own file
SHARED_EHR = "shared-virtual-ehr"
GROUPS = {
    "tests/e2e/test_load_smoke.py::test_soak_smoke": SLA_LOAD_RUNS,
    "tests/e2e/test_load_smoke.py::test_golive_morning_with_workers_and_a_report_dropped_under_load": SLA_LOAD_RUNS,
    "tests/e2e/test_load_smoke.py::test_multi_machine_form_master_waits_for_a_worker_started_from_worker_env":
        SLA_LOAD_RUNS,
    "tests/e2e/test_load_failover.py": SLA_LOAD_RUNS,
    "tests/e2e/test_load_tls.py": SLA_LOAD_RUNS,
    "tests/e2e/test_load_host.py": SLA_LOAD_RUNS,  # a CPU burner: no other SLA run beside it
    # one rehearsal over TLS that both files assert on (tests/e2e/conftest.py: tls_rehearsal)
    "tests/e2e/test_tls_rehearse.py": "tls-rehearsal",
    "tests/e2e/test_secrets_redaction.py": "tls-rehearsal",
    # module-scoped fixtures that start simulators or run a rehearsal
    "tests/e2e/test_allure_html.py": MODULE,
    "tests/sim/test_ehr_medications.py": MODULE,
    "tests/sim/test_ehr_prescribing.py": MODULE,
    "tests/sim/test_multum.py": MODULE,
    "tests/sim/test_nll_sim.py": MODULE,
    "tests/sim/test_fault_nll_target.py": MODULE,
    "tests/sim/test_fault_sim_driver.py": MODULE,
    "tests/sim/test_identity_choke_point.py": MODULE,
    "tests/sim/test_tls_certs_check.py": MODULE,
    "tests/sim/test_tls_transport.py": MODULE,
    "tests/sim/test_tls_virtual.py": MODULE,
    "tests/sim/test_interop_matrix.py": MODULE,
    "tests/sim/test_parity.py": MODULE,
    "tests/e2e/test_rehearse_subset.py": MODULE,
    "tests/sim/test_ehr_access.py": MODULE,
    "tests/sim/test_erx.py": MODULE,
    "tests/sim/test_mutate_outbound.py": MODULE,
    "tests/sim/test_peer_connection_policy.py": MODULE,
    "tests/sim/test_referrals.py": MODULE,
    # the files that use tests/sim/conftest.py's session fixture ``ehr`` (a whole virtual environment):
    # on one worker it starts once, spread over six it started up to six times
    **{f"tests/sim/{name}.py": SHARED_EHR for name in (
        "test_ehr_ack_misaligned", "test_ehr_correct_receiver", "test_ehr_fhir", "test_ehr_mllp",
        "test_enhanced_ack_mode", "test_inbound_robustness", "test_no_data_lost", "test_readback_representations",
        "test_sim_process", "test_tls_transport")},
}


def _matches(nodeid: str, prefix: str) -> bool:
    """``prefix`` is a folder (ends in /), a file, or a test (with or without its parameters)."""
    if prefix.endswith("/"):
        return nodeid.startswith(prefix)
    if prefix.endswith(".py"):
        return nodeid.split("::", 1)[0] == prefix
    return nodeid == prefix or nodeid.startswith(prefix + "[")


def _rank(nodeid: str) -> int:
    return next((i for i, prefix in enumerate(LONG_FIRST) if _matches(nodeid, prefix)), len(LONG_FIRST))


def group_of(nodeid: str) -> str | None:
    group = next((g for prefix, g in GROUPS.items() if _matches(nodeid, prefix)), None)
    return nodeid.split("::", 1)[0] if group == MODULE else group


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: _rank(item.nodeid))  # stable: the rest keep their order
    try:
        fewer_examples(items)  # GENREP_EXAMPLES_SHARE (make test-fast): support.fewer_examples says why
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None




@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: like ``load``, one test at a time, but a group's tests are one unit
    (the groups above, and any ``xdist_group`` mark pytest-xdist manages to apply)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class GroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or super()._split_scope(nodeid)

    return GroupScheduling(config, log)


# -- where the suite's CPU goes (`make test` is CPU-bound on 2 cores) ------------------------------
#
# GENREP_TEST_CPU=FILE appends one JSON line per test: its wall time, when it started and on which
# xdist worker (to find a run's tail), and the CPU its worker and the
# child processes it waited for used meanwhile (simulators, also those the simulator launcher forked,
# rehearsals, Locust; a child reaped
# later, e.g. by a module fixture's teardown, counts for the test that reaped it). Measured, not
# estimated: under contention wall time inflates, CPU time barely does.

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    import os
    path = os.environ.get("GENREP_TEST_CPU")
    if not path:
        yield
        return
    import json
    import resource
    import time

    from genrep.sim import launcher

    def cpu() -> float:
        # a simulator forked by the launcher is the launcher's child: its CPU comes back with its exit code
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + launcher.reaped_cpu_s

    wall, used, started = time.monotonic(), cpu(), time.time()
    yield
    row = {"test": item.nodeid, "wall": round(time.monotonic() - wall, 2), "cpu": round(cpu() - used, 2),
           "start": round(started, 2), "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
