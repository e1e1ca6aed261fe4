"""Benchmark baseline (``genrep.benchmarks.load``): a bare ``FastHttpUser`` that GETs one path with no
checks at all, as fast as it can (``constant(0)``). Started headless by the benchmark with the
GENREP_LOAD_* variables pointing at ``bench/trivial_fhir.py``; the path is the one the harness's
FHIR user reads (``/DiagnosticReport?identifier=<accession>``)."""

import os

import cpu_meter  # noqa: F401 - the Locust process's CPU per request (bench/cpu_meter.py)
from locust import FastHttpUser, constant, task

PATH = f"/DiagnosticReport?identifier={os.environ['GENREP_LOAD_ACCESSION']}"


class BareFhirUser(FastHttpUser):
    host = os.environ["GENREP_LOAD_FHIR"].rstrip("/")
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get(PATH)
