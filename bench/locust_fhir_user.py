"""Benchmark subject (``genrep.benchmarks.load``): the harness's own FHIR-reading user,
``load/users.py``'s ``ClinicianUser``, unchanged except that it does not think (``constant(0)``).

Its single task is the real one (``_next_operation``: the contract's weighted order of
``read_report`` and ``read_medications``), and each request takes the real read path: identity-guard
check of the URL, GET with the FHIR Accept header, JSON parse, ``total`` check. Settings come from
the GENREP_LOAD_* variables the benchmark sets (pointing at ``bench/trivial_fhir.py``). The SLA
gate listener of users.py is removed: this is not a load profile, Locust's own exit code (1 when
any request failed) is what the benchmark reads."""

import sys
from pathlib import Path

import cpu_meter  # noqa: F401 - the Locust process's CPU per request (bench/cpu_meter.py)
from locust import constant, events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
import users  # load/ is not a package; Locust puts only bench/ on sys.path

events.quitting.remove_listener(users._sla_gate)


class BenchClinicianUser(users.ClinicianUser):
    wait_time = constant(0)
