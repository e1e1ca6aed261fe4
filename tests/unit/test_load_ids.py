"""The load ORU's ids (``load.workload._load_ids``): what ``new_id("LO")`` and ``new_id("LA")``
give, with their fixed parts made once per run tag and process, and refused when they could
break the template's fast vetting (anything but letters and digits, or past 20 characters)."""

from __future__ import annotations

import itertools
import os

import pytest

from genrep.errors import ConfigError
from genrep.load import workload


class _Ids:
    def __init__(self, tag: str, pid: int, start: int = 1):
        self.tag, self.pid, self._seq = tag, pid, itertools.count(start)

    def next(self) -> int:
        return next(self._seq)


@pytest.fixture
def ids(monkeypatch):
    def use(tag: str, pid: int, start: int = 1):
        monkeypatch.setattr(workload, "_IDS", _Ids(tag, pid, start))
    return use


def test_load_ids_are_what_new_id_gives(ids):
    for tag, pid, start in [("KDACBD", 4711, 1), ("ABCDEF", 99, 999_998), ("QWERTY", 100, 1_000_000)]:
        ids(tag, pid, start)
        expected = [(workload.new_id("LO"), workload.new_id("LA")) for _ in range(3)]
        ids(tag, pid, start)
        assert [workload._load_ids() for _ in range(3)] == expected


def test_a_new_run_tag_or_process_makes_new_parts(ids):
    ids("AAAAAA", 1)
    first = workload._load_ids()
    ids("BBBBBB", 1)                                   # a fork draws a new tag
    assert workload._load_ids()[0].startswith("LOBBBBBB")
    ids("BBBBBB", 2)                                   # and has its own pid
    assert workload._load_ids()[0].endswith("P02")
    assert first[0].startswith("LOAAAAAA")


def test_parts_that_could_break_the_fast_vetting_are_refused(ids):
    ids("ABC-12", 1)
    with pytest.raises(ConfigError, match="letters and digits"):
        workload._load_ids()
    ids("ABCDEFGHIJKL", 1)                             # 2 + 12 + 6 + 3 = 23 > 20: new_id would cut it
    with pytest.raises(ConfigError, match="20 characters"):
        workload._load_ids()


def test_ids_are_made_a_block_at_a_time_and_a_new_tag_or_pid_drops_the_rest(ids):
    ids("AAAAAA", 1)
    source = workload._IDS
    first = workload._load_ids()
    assert first == ("LOAAAAAA000001P01", "LAAAAAAA000002P01")
    assert next(source._seq) == 2 * workload.LOAD_ID_BLOCK + 1     # the block drew its numbers at once
    assert workload._load_ids() == ("LOAAAAAA000003P01", "LAAAAAAA000004P01")
    source.tag = "CCCCCC"                                          # RunIds.new() in a forked child
    assert workload._load_ids()[0].startswith("LOCCCCCC")
    source.pid = 2
    assert workload._load_ids()[0].endswith("P02")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_never_takes_its_parents_ids():
    """A Locust --processes worker or a suite run forked from a process that already made a block:
    the child draws a new run tag (RunIds' fork hook), so the parent's block is not used there."""
    workload._load_ids()                                           # the parent holds a block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                                   # the child
        code = 1                                                   # anything raised: the parent sees it
        try:
            os.write(write, "|".join(workload._load_ids()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split("|")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(child) == 2 and all(len(i) == 17 for i in child), child  # the child made its ids
    parent = workload._load_ids()
    assert child[0][2:8] != parent[0][2:8]                         # another run tag
    assert not set(child) & set(parent)


def test_threads_taking_ids_get_each_pair_once(ids, monkeypatch):
    """Load users are greenlets, but nothing stops a thread: a pair is never given twice and a
    block used up between a look and a take is made again, never an error. Each take waits a
    moment first, and each thread between two takes, so that other threads take meanwhile (a race
    that is otherwise rare: a look-then-take without the retry failed here 6 times in 1,024)."""
    import threading
    import time

    class SlowTake(list):
        def pop(self, *args):
            time.sleep(0.0002)
            return super().pop(*args)
    monkeypatch.setattr(workload, "_LOAD_ID_BLOCK", SlowTake())
    ids("TTTTTT", 7)
    got: list = []
    errors: list = []
    lock = threading.Lock()

    def take():
        mine = []
        try:
            for _ in range(2 * workload.LOAD_ID_BLOCK):
                mine.append(workload._load_ids())
                time.sleep(0.0001)  # let the others run between two takes too
        except Exception as exc:  # noqa: BLE001 - what the test is about
            errors.append(exc)
            return
        with lock:
            got.extend(mine)
    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(got) == 8 * 2 * workload.LOAD_ID_BLOCK
    flat = [i for pair in got for i in pair]
    assert len(set(flat)) == len(flat)
