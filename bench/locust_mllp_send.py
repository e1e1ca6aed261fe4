"""Benchmark diagnostic (``genrep.benchmarks.load``): ``load/users.py``'s ``_MLLPUser._send`` on its own,
the message building taken out. A ``RisUser`` (``constant(0)``, its single real task
``_next_operation`` -> ``send_oru``) whose ``send_oru`` calls the real ``_send`` with
messages cycling through ORU^R01 frames built once at start by the same library builder
(``Payloads.oru_framed``: allowlisted identity, guard-checked), like the raw loop's pool. So each
request is: library ``MLLPClient.send_framed``, the ACK check, a Locust request event; the
difference to ``locust_mllp_user.py`` is the per-message ORU build and its vetting.

The transport's choke point forgets a vetted payload once it has let it out (a payload is held as
vetted until it is sent: ``identities.IdentityGuard.check``, ``sending``), so a pool frame sent
again would be scanned whole each time (~70 us a message). Each is registered as vetted again
before it goes, as the template's fill registers every new message: the frames passed the guard
when they were built at start and, being ``bytes``, cannot have changed since. They are
registered against the allowlist they were checked with (a copy taken at start): were it changed
since, the guard would not find them vetted and would scan them whole. The refusal latch is
consulted before anything, as always.

(Locust merges a user class's ``tasks`` with its bases', so the task is not replaced: the
operation it runs is.)"""

import itertools
import sys
from pathlib import Path

import cpu_meter  # noqa: F401 - the Locust process's CPU per request (bench/cpu_meter.py)
from locust import constant, events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
import users  # load/ is not a package; Locust puts only bench/ on sys.path

from genrep.text.identities import _remember_vetted

events.quitting.remove_listener(users._sla_gate)
POOL = 64


class BenchRisSendUser(users.RisUser):
    wait_time = constant(0)

    def on_start(self):
        super().on_start()
        self._allowed = set(users.PAYLOADS.guard.allowlist._numbers)  # what the pool was checked with
        self._pool = itertools.cycle([users.PAYLOADS.oru_framed(self.mllp.endpoint) for _ in range(POOL)])

    def send_oru(self):
        data, request, _accession = next(self._pool)
        _remember_vetted(data, self._allowed)
        self._send("send_oru_prebuilt", data, request.control_id, request)
