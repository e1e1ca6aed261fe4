"""NLL's x-request-id is a random UUID, and a UUID's hex can hold a checksum-valid personnummer or
samordningsnummer (3 in 20,000): the outbound guard would refuse the harness's own header and stop
the run. ``request_id`` draws such a UUID again."""

from __future__ import annotations

import uuid

from genrep.integrations import nll
from genrep.text.identity_scan import numbers_in

SEEN_IN_A_RUN = "8039951c-ec8a-47a7-af7e-3708610229e4"  # 370861-0229: refused by the guard in a fresh-clone make test


def test_a_uuid_holding_a_personnummer_shaped_number_is_drawn_again(monkeypatch):
    assert numbers_in(SEEN_IN_A_RUN)  # why: the guard reads it as a samordningsnummer
    draws = iter([uuid.UUID(SEEN_IN_A_RUN), uuid.UUID("0b4cc683-5574-4515-a209-b07c82535ca8")])
    monkeypatch.setattr(nll.uuid, "uuid4", lambda: next(draws))
    assert nll.request_id() == "0b4cc683-5574-4515-a209-b07c82535ca8"


def test_request_ids_are_uuids_without_a_number_and_go_into_every_nll_request(monkeypatch):
    ids = [nll.request_id() for _ in range(2000)]
    assert all(str(uuid.UUID(i)) == i and not numbers_in(i) for i in ids) and len(set(ids)) == 2000
    monkeypatch.setattr(nll, "request_id", lambda: "the-checked-id")
    assert nll.NLLClient._headers(object.__new__(nll.NLLClient))["x-request-id"] == "the-checked-id"
