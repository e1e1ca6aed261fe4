"""The e-prescription contract loader (bad input named by key and line), the card store and the receiver's
verification (the throw-away SITHS-like PKI), and the judgements of genrep.integrations.erx."""

from __future__ import annotations

import datetime as dt

import pytest

from genrep.config.contracts import load_erx
from genrep.errors import ConfigError
from genrep.integrations.erx import (ErxSend, expect_arrived_verified, expect_failed, expect_offered_none,
                                     expect_offered_only_signing, expect_refused, expect_sent,
                                     inspect_certificate)
from genrep.paths import CONTRACTS_DIR
from genrep.results.failure_kinds import KINDS, kinds_in
from genrep.sim.erx_cards import load_card_store, make_card_store
from genrep.sim.erx_receiver import verify
from genrep.transport.pki import ThrowawayCA

ORIGINAL = (CONTRACTS_DIR / "erx.yaml").read_text(encoding="utf-8")
C = load_erx()
ETT, TVA, TRE, FYRA = (C.prescriber(n) for n in ("Test Läkare Ett", "Test Läkare Två", "test läkare tre",
                                                 "Test Läkare Fyra"))


def _load(tmp_path, text: str):
    p = tmp_path / "erx.yaml"
    p.write_text(text, encoding="utf-8")
    return load_erx(p)


def test_the_contract_loads_and_derives_what_a_correct_ehr_does():
    assert (ETT.expected, ETT.signing_label) == ("sent", "sign")
    assert TVA.expected == "signing-certificate-expired"
    assert TRE.expected == "no-signing-certificate"
    assert FYRA.expected == "signing-certificate-not-yet-valid"  # a colleague's valid one does not count
    assert C.reason("fel nyckelanvändning").code == "wrong-key-usage"
    assert C.prescriber(ETT.id) is ETT
    assert C.reasons["no-signing-certificate"].kind == "refusal"


@pytest.mark.parametrize("old,new,key,words", [
    ("  within_seconds: 5 ", "  within_seconds: 0 ", "send.within_seconds", "more than 0"),
    ("  offered_at_most: 1 ", "  offered_at_most: 0 ", "signing.offered_at_most", "1 to 100"),
    ("  signing_key_usage: content_commitment", "  signing_key_usage: digital_signature",
     "signing.signing_key_usage", "must differ"),
    ("  signing_key_usage: content_commitment", "  signing_key_usage: non_repudiation",
     "signing.signing_key_usage", "must be one of"),
    ("{label: sign, usage: signing, validity: valid}", "{label: sign, usage: signing, validity: valid}\n"
     "      - {label: sign2, usage: signing, validity: valid}", "prescribers[0].card", "at most one valid"),
    ("{label: sign, usage: signing, validity: valid}", "{label: auth, usage: signing, validity: valid}",
     "prescribers[0].card[1].label", "twice"),
    ("{label: sign, usage: signing, validity: valid}", "{label: sign, usage: signing, validity: soon}",
     "prescribers[0].card[1].validity", "must be one of"),
    ("  no-signing-certificate:\n    kind: refusal", "  no-signing-certificate:\n    kind: failure",
     "reasons.no-signing-certificate.kind", "is a refusal"),
    ("    name: Test Läkare Två", "    name: Test Läkare Ett", "prescribers[1]", "named twice"),
])
def test_bad_contracts_are_refused_naming_the_key(tmp_path, old, new, key, words):
    assert old in ORIGINAL
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, ORIGINAL.replace(old, new, 1))
    assert key in str(err.value) and words in str(err.value)


def test_no_happy_path_is_refused(tmp_path):
    text = ORIGINAL.replace("{label: sign, usage: signing, validity: valid}",
                            "{label: sign, usage: signing, validity: expired}")
    with pytest.raises(ConfigError, match="at least one prescriber must have a valid signing"):
        _load(tmp_path, text)


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    d = make_card_store(tmp_path_factory.mktemp("cards"), C)
    from cryptography import x509
    return load_card_store(d), x509.load_pem_x509_certificate((d / "ca.pem").read_bytes()), d


def test_the_card_store_holds_each_card_with_its_usages_and_validities(cards):
    store, _, d = cards
    assert oct(d.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in d.iterdir())
    for p in C.prescribers:
        got = [inspect_certificate(c.cert_pem(), C, c.label) for c in store[p.id]]
        want = [(c.label, c.usage, c.validity, c.holder) for c in p.card]
        assert [(g.label, g.usage, g.validity, g.holder) for g in got] == want


def _sign(card, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    return card.key.sign(data, ec.ECDSA(hashes.SHA256()))


def test_the_receiver_verifies_only_the_prescribers_valid_signing_certificate(cards):
    store, ca, _ = cards
    by = {c.label: c for c in store[ETT.id]}
    body = b'{"medication":"Amoxicillin 500 mg"}'
    pem = lambda label: by[label].cert_pem().encode()  # noqa: E731
    assert verify(ca, body, _sign(by["sign"], body), pem("sign"), ETT.id)[0] == ""
    assert verify(ca, body, _sign(by["auth"], body), pem("auth"), ETT.id)[0] == "wrong-key-usage"
    assert verify(ca, body, _sign(by["sign-old"], body), pem("sign-old"), ETT.id)[0] == "certificate-expired"
    assert verify(ca, body, _sign(by["sign-renewal"], body), pem("sign-renewal"), ETT.id)[0] == \
        "certificate-not-yet-valid"
    assert verify(ca, body, _sign(by["colleague-sign"], body), pem("colleague-sign"), ETT.id)[0] == \
        "identity-mismatch"
    assert verify(ca, body + b" ", _sign(by["sign"], body), pem("sign"), ETT.id)[0] == "bad-signature"
    assert verify(ca, body, _sign(by["auth"], body), pem("sign"), ETT.id)[0] == "bad-signature"  # another key
    stranger = ThrowawayCA("another CA").issue_person(ETT.id, ETT.name, usage="signing")
    sig = stranger.key.sign(body, __import__("cryptography.hazmat.primitives.asymmetric.ec", fromlist=["ec"])
                            .ECDSA(__import__("cryptography.hazmat.primitives.hashes", fromlist=["x"]).SHA256()))
    assert verify(ca, body, sig, stranger.cert_pem(), ETT.id)[0] == "untrusted-issuer"
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    assert verify(ca, body, _sign(by["sign"], body), pem("sign"), ETT.id, now=later)[0] == "certificate-expired"


def _offered(cards, prescriber, labels):
    store = cards[0]
    by = {c.label: c for c in store[prescriber.id]}
    return [inspect_certificate(by[lb].cert_pem(), C, lb) for lb in labels]


def test_offered_lists_are_judged_from_the_certificates(cards):
    assert expect_offered_only_signing(_offered(cards, ETT, ["sign"]), ETT, C) is None
    every = expect_offered_only_signing(_offered(cards, ETT, [c.label for c in ETT.card]), ETT, C)
    assert kinds_in(every) == ["erx_too_many_certificates"] and "auth (authentication, valid" in every
    assert kinds_in(expect_offered_only_signing(_offered(cards, ETT, ["auth"]), ETT, C)) == ["erx_wrong_certificate"]
    assert kinds_in(expect_offered_only_signing(_offered(cards, ETT, ["colleague-sign"]), ETT, C)) == \
        ["erx_wrong_certificate"]
    assert kinds_in(expect_offered_only_signing([], ETT, C)) == ["erx_wrong_certificate"]
    assert expect_offered_none([], TVA) is None
    assert kinds_in(expect_offered_none(_offered(cards, TVA, ["auth"]), TVA)) == ["erx_too_many_certificates"]


def _record(status="sent", reason="", **kw):
    return {"id": "erx-1", "status": status, "reason": reason, "receipt": kw.get("receipt", "r-1"),
            "certificate": {"serial": kw.get("serial", "ab")}}


def test_sends_are_judged_and_every_message_has_a_registered_kind():
    ok = ErxSend(ETT, 0.1, 201, record=_record())
    assert expect_sent(ok, C) is None
    msgs = [
        expect_sent(ErxSend(ETT, 0.1, 201, record=_record("failed", "wrong-key-usage")), C),
        expect_sent(ErxSend(ETT, 0.1, 201, record=_record("failed", "receiver-unavailable")), C),
        expect_sent(ErxSend(ETT, 9.0, 201, record=_record()), C),
        expect_sent(ErxSend(ETT, 0.1, 422, refusal=("no-signing-certificate", "x")), C),
        expect_sent(ErxSend(ETT, 0.1, 500, error="boom"), C),
        expect_refused(ErxSend(TVA, 0.1, 201, record=_record("failed", "wrong-key-usage")),
                       "signing-certificate-expired"),
        expect_refused(ErxSend(TVA, 0.1, 422, refusal=("", "")), "signing-certificate-expired"),
        expect_refused(ErxSend(TVA, 0.1, 422, refusal=("no-signing-certificate", "x")), "signing-certificate-expired"),
        expect_failed(ErxSend(ETT, 0.1, 201, record=_record("sent")), "receiver-unavailable", []),
        expect_failed(ErxSend(ETT, 0.1, 201, record=_record("failed", "bad-signature")), "receiver-unavailable", None),
        expect_arrived_verified(ok, [], ETT),
        expect_arrived_verified(ok, [{"verified": False, "reason": "wrong-key-usage"}], ETT),
        expect_arrived_verified(ok, [{"verified": False, "reason": "bad-signature"}], ETT),
        expect_arrived_verified(ok, [{"verified": True, "signer": {"holder": ETT.id, "serial": "cd"}}], ETT),
    ]
    kinds = [kinds_in(m)[0] for m in msgs]
    assert kinds == ["erx_wrong_certificate", "erx_not_sent", "erx_answer_late", "erx_not_sent", "erx_api_error",
                     "erx_not_refused", "erx_refusal_unclear", "erx_wrong_reason", "erx_not_received",
                     "erx_wrong_reason", "erx_not_received", "erx_wrong_certificate", "erx_signature_invalid",
                     "erx_wrong_certificate"]
    assert all(k in KINDS for k in kinds)
    assert expect_refused(ErxSend(TVA, 0.1, 422, refusal=("signing-certificate-expired", "x")),
                          "signing-certificate-expired") is None
    assert expect_failed(ErxSend(ETT, 0.1, 201, record=_record("failed", "receiver-unavailable")),
                         "receiver-unavailable", None) is None
    good = [{"verified": True, "receipt": "r-1", "signer": {"holder": ETT.id, "serial": "ab"}}]
    assert expect_arrived_verified(ok, good, ETT) is None
