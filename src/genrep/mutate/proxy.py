"""The mutation proxies: an MLLP proxy and an HTTP proxy, threads on loopback ports, each in front
of one endpoint, passing every message through the active operator (``Switch``).

* ``MLLPProxy``: reassembles frames in both directions (VT ... FS CR, however TCP splits or joins
  them); each whole inbound frame's payload goes through the switch (channel ``mllp-inbound``), each
  ACK too (``mllp-outbound``). Bytes outside a frame, and a frame that never ends (the client
  closes first), are forwarded as they came. A frame over ``max_frame`` is forwarded unchanged.
* ``HTTPProxy``: forwards each request to the one upstream it was given (same path; a request for
  any other host is refused with 400, ``Accept-Encoding`` is set to identity so bodies are plain);
  the response body goes through the switch (``http-response``) with the request path, content type
  and status; ``Content-Length`` is set to the body sent, and an operator may answer with another
  status or content type (a failure turned into a 200). The same proxy sits on the EHR's outbound
  paths (``channels``: ``nll-request``/``nll-response``, ``multum-request``/``multum-response``)
  where the environment lets it (``genrep.sim.process``: the virtual environment's ``outbound``).

Both listen only on loopback (another address is refused) and forward only to the endpoint they were
given, over TLS when that endpoint uses it (``ssl_context``); towards the harness they speak plain
TCP/HTTP on loopback. Every wait is bounded (connect, read, idle connections); ``stop`` closes the
listener and every open connection and joins the threads with a deadline. All threads are daemons,
so an interrupted run (Ctrl-C) never waits on them.

With no operator active, bytes pass through unchanged. ``Switch`` is the runtime switch shared by
both proxies: ``set(operator)`` makes one operator active (or none) for every connection from then
on, so one running environment serves all operators; it counts the messages an operator applied to
and changed, and keeps the first change as an example.

The proxies live one per module, with what they share in a third, and every name is importable
from here as before (issue 13): ``mutate.switch`` (``Switch``, ``Counts``, the loopback-only check,
the read size), ``mutate.mllp_proxy`` (``MLLPProxy``) and ``mutate.http_proxy`` (``HTTPProxy``).
"""

from __future__ import annotations

from genrep.mutate.http_proxy import MAX_BODY, HTTPProxy
from genrep.mutate.mllp_proxy import CR, FS, MAX_FRAME, VT, MLLPProxy
from genrep.mutate.switch import MAX_RECORDED_BYTES, RECV_SIZE, Counts, Switch

__all__ = ["CR", "FS", "VT", "MAX_BODY", "MAX_FRAME", "MAX_RECORDED_BYTES", "RECV_SIZE", "Counts", "HTTPProxy",
           "MLLPProxy", "Switch"]
