"""What a load user may send and where (genrep.load.http_route.HttpRoute, genrep.load.workload.Payloads): hosts and scheme
checked before sending, URL, body and constant headers through the identity guard, and every
redirect a failure naming its target. The Locust side is tested over real sockets in
tests/e2e/test_load_redirects.py."""

from __future__ import annotations

import json

import pytest

from genrep.errors import IdentityViolation
from genrep.load.http_route import HttpRoute, RequestRefused
from genrep.load.workload import Payloads

# The personnummer package's documentation example: checksum-valid, NOT on the allowlist.
FOREIGN = "196408233234"
ALLOWED = frozenset({"127.0.0.1", "ehr.test"})


@pytest.fixture(autouse=True)
def _fresh_refusal_latch():
    """A refusal latches for the rest of a run (nothing more is sent); each test is its own run."""
    from genrep.text import identities
    reset = getattr(identities, "reset_refusals", None)
    if reset:
        reset()
    yield
    if reset:
        reset()


class Recording(Payloads):
    """Payloads whose check records what it was given (and still checks it)."""

    def __init__(self):
        super().__init__()
        self.checked: list[tuple[str | bytes, str]] = []

    def check(self, payload, destination, kind=""):
        self.checked.append((payload, destination))
        super().check(payload, destination, kind)


@pytest.fixture(scope="module")
def payloads():
    return Payloads()


def route(payloads, base="http://127.0.0.1:8080", **kw):
    return HttpRoute(base, allowed_hosts=ALLOWED, payloads=payloads, **kw)


def test_a_base_url_on_a_host_the_profile_does_not_name_is_refused(payloads):
    with pytest.raises(RequestRefused, match="host 'elsewhere.test' is not in the profile"):
        route(payloads, "http://elsewhere.test:8080")


def test_a_tls_endpoint_never_gets_an_http_url(payloads):
    with pytest.raises(RequestRefused, match="plain http on a TLS endpoint"):
        route(payloads, "http://ehr.test:8443", tls=True)
    r = route(payloads, "https://ehr.test:8443", tls=True)
    with pytest.raises(RequestRefused, match="plain http on a TLS endpoint"):
        r.prepare("http://ehr.test:8443/DiagnosticReport")
    assert r.prepare("https://ehr.test:8443/DiagnosticReport") == (None, r.headers)


def test_an_absolute_url_to_another_host_is_refused(payloads):
    r = route(payloads)
    with pytest.raises(RequestRefused, match="'127.0.0.2' is not in the profile"):
        r.prepare("http://127.0.0.2:8080/prescribe", json={"patient": "x"})
    with pytest.raises(RequestRefused, match="not under"):
        r.prepare("relative/path")


def test_url_and_body_pass_the_guard_and_the_checked_bytes_are_the_sent_bytes():
    p = Recording()
    r = route(p, secret_headers={"Authorization": "Bearer tok"})
    p.checked.clear()
    body, headers = r.prepare("/prescribe?x=1", json={"patient": "pat-1", "new": "warfarin"})
    assert [c[0] for c in p.checked] == ["/prescribe?x=1", body]
    assert json.loads(body) == {"patient": "pat-1", "new": "warfarin"}
    assert headers["Content-Type"] == "application/json" and headers["Authorization"] == "Bearer tok"
    assert all(dest == "http://127.0.0.1:8080" for _, dest in p.checked)


def test_a_personnummer_in_the_url_or_the_body_is_refused_before_sending(payloads):
    r = route(payloads)
    with pytest.raises(IdentityViolation, match="not on the test-identity allowlist"):
        r.prepare(f"/MedicationRequest?patient={FOREIGN}")
    from genrep.text import identities
    if getattr(identities, "reset_refusals", None):
        identities.reset_refusals()
    with pytest.raises(IdentityViolation, match="not on the test-identity allowlist"):
        r.prepare("/prescribe", json={"patient": FOREIGN[2:8] + "-" + FOREIGN[8:]})


def test_constant_headers_are_scanned_once_at_start_and_the_token_never():
    p = Recording()
    # a token that looks like a personnummer would be refused if it were scanned: it is a secret
    r = route(p, headers={"Accept": "application/fhir+json"},
              secret_headers={"Authorization": f"Bearer {FOREIGN}"})
    scanned = [c[0] for c in p.checked]
    assert "Accept: application/fhir+json" in scanned
    assert not any(FOREIGN in str(s) for s in scanned)
    p.checked.clear()
    r.scan_headers({"User-Agent": "x/1"})
    r.scan_headers({"User-Agent": "x/1"})
    assert [c[0] for c in p.checked] == ["User-Agent: x/1"]
    for _ in range(3):
        r.prepare("/DiagnosticReport?identifier=LA1")
    assert [c[0] for c in p.checked] == ["User-Agent: x/1"] + ["/DiagnosticReport?identifier=LA1"] * 3
    with pytest.raises(IdentityViolation):
        route(Payloads(), headers={"X-Patient": FOREIGN})


@pytest.mark.parametrize("base, location, reason", [
    ("http://127.0.0.1:8080", "http://127.0.0.2:9000/prescribe",
     "redirect to host 127.0.0.2 not in the profile (307, http://127.0.0.2:9000/prescribe); not followed"),
    ("http://127.0.0.1:8080", "http://localhost2.invalid/x",
     "redirect to host localhost2.invalid not in the profile"),
    ("https://ehr.test:8443", "http://ehr.test:8080/DiagnosticReport",
     "redirect from https to plaintext http (307, http://ehr.test:8080/DiagnosticReport); not followed"),
    ("https://ehr.test:8443", "/elsewhere",
     "redirect not followed (307, https://ehr.test:8443/elsewhere)"),
    ("http://127.0.0.1:8080", "", "redirect not followed (307, no Location)"),
])
def test_every_redirect_is_a_failure_naming_its_target(payloads, base, location, reason):
    r = route(payloads, base)
    assert reason in r.redirect_problem("/prescribe" if "prescribe" in location else "/x", 307, location)


def test_only_3xx_answers_are_redirects_and_a_location_is_shown_masked(payloads):
    r = route(payloads)
    assert r.redirect_problem("/x", 200, "http://127.0.0.2/") is None
    assert r.redirect_problem("/x", 404, None) is None
    problem = r.redirect_problem("/x", 302, f"http://127.0.0.2/Patient?id={FOREIGN}")
    assert FOREIGN not in problem and "19640823****" in problem


def test_the_mllp_payloads_are_vetted_by_the_guard():
    """Every MLLP payload is vetted by the load users' guard before it is returned: the ADT through
    ``Payloads.check``, each ORU by its vetted template (``VettedTemplate.fill``: by its values, or
    scanned whole when the rule does not apply), so the transport's ``guard_outbound`` finds that
    very object vetted (issue 18: the ORU no longer passes ``Payloads.check`` a second time)."""
    from genrep.text.identities import forget_vetted, is_vetted
    forget_vetted()
    p = Recording()
    for _ in range(3):
        before = p.guard.checked
        oru, _cid, _acc = p.oru_with_accession("127.0.0.1:2575")
        assert p.guard.checked == before + 1        # vetted once, by this guard
        assert is_vetted(oru, p.allowlist)           # the object the transport will be given
    adt, _cid = p.adt("127.0.0.1:2575")
    assert [(c[0], c[1]) for c in p.checked] == [(adt, "127.0.0.1:2575")]
    assert is_vetted(adt, p.allowlist)


# -- generated spellings (issue 12): the load users' paths refuse every spelling the steps' do ----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from genrep.text.identity_spellings import spellings  # noqa: E402

_GENERATED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@_GENERATED
@given(text=spellings(), part=st.sampled_from(["query", "path", "json"]))
def test_load_http_route_refuses_generated_spellings(text, part):
    from urllib.parse import quote

    from genrep.text import identities
    route = HttpRoute("http://127.0.0.1:9", allowed_hosts=ALLOWED, payloads=Payloads())
    try:
        with pytest.raises(IdentityViolation):
            if part == "query":
                route.prepare(f"/MedicationRequest?patient={quote(text, safe='')}")
            elif part == "path":
                route.prepare(f"/Patient/{quote(text, safe='')}")
            else:
                route.prepare("/prescribe", json={"patient": text, "current": ["warfarin"], "new": "aspirin"})
    finally:
        identities.reset_refusals()
