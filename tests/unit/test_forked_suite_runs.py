"""``rehearsal.forked_suite_runs`` shared by several threads: the first context in starts the suite
server, the last one out closes it, whether the contexts nest or only overlap (before, the first
one out closed the server under the other's runs, and it set ``_SERVER`` to None for both)."""

from __future__ import annotations

import threading

from genrep import rehearsal, suite_launcher


class FakeServer:
    pid = -1

    def __init__(self):
        self.closed = 0

    def close(self):
        self.closed += 1


def _fake_start(monkeypatch) -> list[FakeServer]:
    started: list[FakeServer] = []
    monkeypatch.setattr(suite_launcher, "start", lambda env: started.append(FakeServer()) or started[-1])
    return started


def test_overlapping_contexts_in_two_threads_share_one_server_closed_by_the_last_out(monkeypatch):
    started = _fake_start(monkeypatch)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with rehearsal.forked_suite_runs() as forked:
            seen["first"] = (forked, rehearsal._SERVER)
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with rehearsal.forked_suite_runs() as forked:
            seen["second"] = (forked, rehearsal._SERVER)
            second_in.set()
            first_out.wait(10)  # the first context has closed: the server must still be there
            seen["after first out"] = (rehearsal._SERVER, started[0].closed)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(started) == 1
    assert seen["first"] == seen["second"] == (True, started[0])
    assert seen["after first out"] == (started[0], 0)
    assert started[0].closed == 1 and rehearsal._SERVER is None and rehearsal._SERVER_USERS == 0


def test_nested_contexts_close_once_and_a_new_context_starts_a_new_server(monkeypatch):
    started = _fake_start(monkeypatch)
    with rehearsal.forked_suite_runs():
        with rehearsal.forked_suite_runs() as inner:
            assert inner and rehearsal._SERVER is started[0]
        assert started[0].closed == 0 and rehearsal._SERVER is started[0]
    assert started[0].closed == 1 and rehearsal._SERVER is None
    with rehearsal.forked_suite_runs():
        assert rehearsal._SERVER is started[1]
    assert len(started) == 2 and started[1].closed == 1


def test_a_server_that_cannot_start_leaves_runs_on_popen_and_the_count_balanced(monkeypatch):
    monkeypatch.setattr(suite_launcher, "start", lambda env: None)
    with rehearsal.forked_suite_runs() as forked:
        assert not forked and rehearsal._SERVER is None
    assert rehearsal._SERVER_USERS == 0
