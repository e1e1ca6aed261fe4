"""Shared for every test: an identity refusal stops a run (a process-wide latch, see
``genrep.text.identities``); each test is its own run, so the latch is cleared after each one."""

from __future__ import annotations

import pytest

from genrep.text import identities


@pytest.fixture(autouse=True)
def _fresh_identity_latch(monkeypatch):
    monkeypatch.delenv(identities.LATCH_ENV, raising=False)
    identities.reset_refusals()
    yield
    identities.reset_refusals()
    identities.install_outbound_guard(None)
