"""Benchmark subject (``genrep.benchmarks.load``): the harness's own MLLP user, ``load/users.py``'s
``RisUser``, unchanged except that it does not think (``constant(0)``).

Its single task is the real one (``_next_operation`` -> ``send_oru``): a new 9.7 KB ORU^R01 per
message from the library payload builder (identity-guard checked), sent with the library
``MLLPClient`` on one persistent connection, the ACK checked with ``ack_problem`` and a Locust
request event fired (``_MLLPUser._send``). Settings come from the GENREP_LOAD_* variables the
benchmark sets (pointing at ``bench/mllp_ack.py``). The SLA gate listener of users.py is removed
(see locust_fhir_user.py)."""

import sys
from pathlib import Path

import cpu_meter  # noqa: F401 - the Locust process's CPU per request (bench/cpu_meter.py)
from locust import constant, events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
import users  # load/ is not a package; Locust puts only bench/ on sys.path

events.quitting.remove_listener(users._sla_gate)


class BenchRisUser(users.RisUser):
    wait_time = constant(0)
