"""The load ORU's ids (``load.workload._load_ids``): what ``new_id("LO")`` and ``new_id("LA")``
give, with their fixed parts made once per run tag and process, and refused when they could
break the template's fast vetting (anything but letters and digits, or past 20 characters)."""

from __future__ import annotations

import itertools

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
