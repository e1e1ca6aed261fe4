"""The Locust process's own CPU per request over the measured span, for ``genrep.benchmarks.load``.

Imported by every bench locustfile (Locust puts ``bench/`` on ``sys.path``). Nothing runs per
request: a greenlet started at ``test_start`` samples, every ``PERIOD_S``, the process's CPU time
(``time.process_time``: user + system, every thread), the wall clock and Locust's own request count
(``environment.stats.total.num_requests``). The measured span runs from the first sample that saw a
request to the last sample at which the count had grown, so start-up, spawning and shutdown are
left out, as in the rate's span. At ``quitting`` it writes ``GENREP_BENCH_CPU_FILE`` (JSON):
``requests`` and ``cpu_s`` in that span, ``wall_s``, and ``cpu_per_request_us``.

Why a sampler and not a listener on every request: a ``process_time`` call costs ~1.5 us here,
which would be charged to every request of both sides (1 % of a bare MLLP request); sampling adds
nothing per request. The error is at most one sampling period's worth of idle greenlet switching.
"""

from __future__ import annotations

import json
import os
import time

import gevent
from locust import events

PERIOD_S = 0.1
_FILE = os.environ.get("GENREP_BENCH_CPU_FILE", "")
_samples: list[tuple[float, float, int]] = []  # (process_time, perf_counter, requests): first and last kept
_state: dict = {"greenlet": None}


def _sampler(environment) -> None:
    total = environment.stats.total
    while True:
        n = total.num_requests
        if n:
            sample = (time.process_time(), time.perf_counter(), n)
            if not _samples:
                _samples.append(sample)
            elif n > _samples[-1][2]:
                if len(_samples) == 1:
                    _samples.append(sample)
                else:
                    _samples[-1] = sample
        gevent.sleep(PERIOD_S)


@events.test_start.add_listener
def _start(environment, **_kw) -> None:
    if _state["greenlet"] is None:
        _state["greenlet"] = gevent.spawn(_sampler, environment)


@events.quitting.add_listener
def _write(environment, **_kw) -> None:
    if _state["greenlet"] is not None:
        _state["greenlet"].kill(block=False)
    if not _FILE:
        return
    out: dict = {"period_s": PERIOD_S, "samples": len(_samples)}
    if len(_samples) == 2:
        (c0, w0, n0), (c1, w1, n1) = _samples
        out.update(requests=n1 - n0, cpu_s=round(c1 - c0, 6), wall_s=round(w1 - w0, 6),
                   cpu_per_request_us=round((c1 - c0) / (n1 - n0) * 1e6, 3))
    with open(_FILE + ".tmp", "w", encoding="utf-8") as f:
        json.dump(out, f)
    os.replace(_FILE + ".tmp", _FILE)
