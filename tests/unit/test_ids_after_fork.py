"""Ids drawn per process at import (a run tag and a counter) are drawn again in a forked child: the
suite server forks every run of ``genrep selftest``/``genrep mutate``, the simulator launcher forks
every simulator, Locust forks its workers; without it every fork repeated its parent's ids exactly
(the same accessions and control ids in every mutation run against one external environment)."""

from __future__ import annotations

import os

import pytest

from genrep.hl7 import ack
from genrep.integrations import radiology
from genrep.load import workload


def _in_child(make) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id, then out (no pytest teardown here)
        try:
            os.write(write, make().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        got = pipe.read().decode()
    os.waitpid(pid, 0)
    return got


def _load_id() -> str:
    """A load id without its process-id tag (``P`` and two digits, which differ by pid anyway):
    what must differ is the run tag and counter."""
    return workload.new_id("LO")[:-3]


@pytest.mark.parametrize("make", [radiology.new_accession, radiology.new_control_id, _load_id,
                                  ack._new_control_id],
                         ids=["accession", "control id", "load id", "ack control id"])
def test_a_forked_process_draws_ids_of_its_own(make):
    children = {_in_child(make) for _ in range(3)}
    assert len(children) == 3, children       # each child its own
    assert make() not in children               # and none the parent's next one
