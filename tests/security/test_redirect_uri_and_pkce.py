"""Attacks that held (security review): redirect URI matching and PKCE, over real HTTP.

The attacker's side: an authorization request naming a redirect URI close to the registered one
must end on an error page at the gateway, never on a redirect (RFC 6749 §4.1.2.1: the client's
redirect URI is verified before anything is sent to it), and never on a 5xx. A code is only
worth anything with the PKCE verifier of its own flow (RFC 7636, S256 only).

Already held elsewhere and not repeated here: a wrong redirect URI, the registered one upper-cased
and a repeated ``state`` (tests/test_authorize.py), an unregistered post_logout_redirect_uri
(tests/test_session.py); PKCE without a challenge, with ``plain`` or without a method
(tests/test_authorize.py, tests/security/test_discovery_walk.py); a missing, short or wrong
verifier (tests/test_token.py); a refused verifier or redirect URI not using the code up
(tests/security/test_refusals_change_nothing.py)."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.flow import REDIRECT_URI, add_service, login_flow, register
from tests.test_authorize import CHALLENGE, base

# Matching and PKCE are decided in Python, the same on both databases: SQLite only, to keep the
# suite quick (the races, which do depend on the database, run on both in test_token_attacks.py).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: Near misses of the registered https://rp.example.test/cb. Each must be an error page.
UNVERIFIED = {
    "trailing slash": REDIRECT_URI + "/",
    "upper-case host": "https://RP.EXAMPLE.TEST/cb",
    "upper-case path": "https://rp.example.test/CB",
    "upper-case scheme": "HTTPS://rp.example.test/cb",
    "extra query": REDIRECT_URI + "?next=https://evil.test/",
    "empty query": REDIRECT_URI + "?",
    "different port": "https://rp.example.test:8443/cb",
    "explicit default port": "https://rp.example.test:443/cb",
    "http scheme": "http://rp.example.test/cb",
    "fragment": REDIRECT_URI + "#x",
    "path traversal": "https://rp.example.test/cb/../cb",
    "encoded traversal": "https://rp.example.test/cb/%2e%2e/cb",
    "traversal into the path": "https://rp.example.test/evil/%2E%2E/cb",
    "userinfo before the evil host": "https://rp.example.test@evil.test/cb",
    "userinfo before the right host": "https://evil.test@rp.example.test/cb",
    "backslash userinfo": "https://rp.example.test\\@evil.test/cb",
    "encoded letter": "https://rp.example.test/%63b",
    "encoded slash": "https://rp.example.test%2Fcb",
    "trailing dot host": "https://rp.example.test./cb",
    "path parameter": REDIRECT_URI + ";x=1",
    "leading space": " " + REDIRECT_URI,
    "scheme-relative": "//evil.test/cb",
    "different host": "https://evil.test/cb",
    "suffix host": "https://rp.example.test.evil.test/cb",
    "javascript": "javascript:alert(1)//",
    "unregistered with a quote and markup": 'https://evil.test/cb?"><script>alert(1)</script>',
    "unregistered non-ASCII": "https://evil.test/ไทย",
    "unregistered IDN homograph": "https://rр.example.test/cb",  # Cyrillic 'р'
}
#: Errors the gateway sends back to a verified redirect URI; with an unverified one each must stay
#: a page (the redirect URI is checked first, whatever else is wrong with the request).
REDIRECTED_ERRORS = {
    "prompt=none without a session": {"prompt": "none"},
    "response_type token": {"response_type": "token"},
    "PKCE plain": {"code_challenge_method": "plain"},
    "no openid scope": {"scope": "profile"},
    "request object": {"request": "eyJhbGciOiJub25lIn0.e30."},
    "bad max_age": {"max_age": "-1"},
}


def _send(gateway, method: str, params: dict | str) -> httpx.Response:
    if method == "GET":
        query = params if isinstance(params, str) else urlencode(params)
        return httpx.get(gateway.url + "/authorize?" + query, follow_redirects=False, timeout=20)
    return httpx.post(gateway.url + "/authorize", follow_redirects=False, timeout=20,
                      content=params if isinstance(params, str) else urlencode(params),
                      headers={"content-type": "application/x-www-form-urlencoded"})


def assert_error_page(r: httpx.Response, unverified: str, what: str) -> None:
    """An HTML error page at the gateway: no redirect of any kind towards ``unverified``."""
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    assert r.status_code == 400, (what, r.status_code, r.headers.get("location"))
    assert "location" not in r.headers, (what, r.headers["location"])
    assert r.headers["content-type"].startswith("text/html"), (what, r.headers["content-type"])
    body = r.text.lower()
    assert "http-equiv" not in body, what  # no meta refresh
    for attr in ("href=", "action=", "src=") if unverified else ():  # nor a link or form pointing at it
        assert f'{attr}"{html.escape(unverified).lower()}' not in body, (what, attr)


def test_near_miss_redirect_uris_get_an_error_page_not_a_redirect(gateway):
    """Defence: exact, byte-for-byte redirect URI matching (ClientModel.check_redirect_uri) and
    the page-not-redirect rule of RFC 6749 §4.1.2.1 (idgw.web.routes.authorize)."""
    reg = register(gateway)
    other = add_service(gateway, redirect_uris=["https://rp.other-agency.test/cb"])
    cases = {**UNVERIFIED, "another client's registered URI": "https://rp.other-agency.test/cb"}
    for method in ("GET", "POST"):
        for name, uri in cases.items():
            assert_error_page(_send(gateway, method, base(reg, redirect_uri=uri)), uri, (method, name))
        # no redirect_uri at all: OIDC Core §3.1.2.1 requires it, even with one registered
        assert_error_page(_send(gateway, method, base(reg, redirect_uri=None)), "", (method, "missing"))
    # The registered URI itself is redirected to: the pages above are the matching, not a broken endpoint.
    r = _send(gateway, "GET", base(reg, prompt="none"))
    assert r.status_code == 302 and r.headers["location"].startswith(REDIRECT_URI + "?"), r.text[:300]
    assert other.client_id  # (registered only so that its URI exists)


def test_an_error_that_would_be_redirected_stays_a_page_with_an_unverified_uri(gateway):
    """Defence: the redirect URI is verified before any other check can answer by redirect."""
    reg = register(gateway)
    for name, over in REDIRECTED_ERRORS.items():
        # with the registered URI each of these is a redirect with error=...
        r = _send(gateway, "GET", base(reg, **over))
        assert r.status_code == 302 and r.headers["location"].startswith(REDIRECT_URI + "?"), (name, r.status_code)
        assert "error" in parse_qs(urlsplit(r.headers["location"]).query), name
        for uri in ("https://evil.test/cb", REDIRECT_URI + "/", "http://rp.example.test/cb"):
            assert_error_page(_send(gateway, "GET", base(reg, redirect_uri=uri, **over)), uri, (name, uri))
    # an unknown or missing client with the registered URI of a real one
    for client_id in ("no-such-client", None):
        assert_error_page(_send(gateway, "GET", base(reg, client_id=client_id)), REDIRECT_URI, client_id)


def test_a_repeated_redirect_uri_is_a_page_whichever_comes_first(gateway):
    """Defence: RFC 6749 §3.1 (no parameter twice), so no reading of 'the first' or 'the last'
    value can be played against the check. Via GET and POST, and split between query and body."""
    reg = register(gateway)
    evil = "https://evil.test/cb"
    for first, second in ((REDIRECT_URI, evil), (evil, REDIRECT_URI), (REDIRECT_URI, REDIRECT_URI)):
        query = urlencode(base(reg, redirect_uri=first)) + "&" + urlencode({"redirect_uri": second})
        for method in ("GET", "POST"):
            r = _send(gateway, method, query)
            assert_error_page(r, evil, (method, first, second))
            assert "redirect_uri" in html.unescape(r.text), (method, first, second)
    # split between a POST's query string and its body: the body is the request; the query's
    # redirect_uri is never used, whichever of the two names the unverified URI
    r = httpx.post(gateway.url + "/authorize?" + urlencode({"redirect_uri": evil}), data=base(reg, prompt="none"),
                   follow_redirects=False, timeout=20)
    assert r.status_code == 302 and r.headers["location"].startswith(REDIRECT_URI + "?"), r.headers.get("location")
    r = httpx.post(gateway.url + "/authorize?" + urlencode(base(reg, prompt="none")), data={"redirect_uri": evil},
                   follow_redirects=False, timeout=20)
    assert_error_page(r, evil, "registered URI in the query, unverified one in the body")


def test_the_token_endpoint_refuses_a_redirect_uri_other_than_the_codes(gateway):
    """Defence: the code is bound to the exact redirect URI it was issued for (RFC 6749 §4.1.3),
    even one that is also registered for the same client."""
    second = "https://rp.example.test/cb2"
    reg = register(gateway, redirect_uris=[REDIRECT_URI, second])
    params, _s, _n, verifier, _rp, _b = login_flow(gateway, reg)
    code = params["code"]
    for uri in (second, REDIRECT_URI + "/", "https://RP.example.test/cb", REDIRECT_URI + "?x=1",
                "http://rp.example.test/cb", "https://rp.example.test/cb/../cb", REDIRECT_URI + "#x"):
        r = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret), timeout=20,
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": uri,
                             "code_verifier": verifier})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", (uri, r.status_code, r.text)
    # The code was alive all along: the refusals above were the redirect URI's.
    r = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret), timeout=20,
                   data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                         "code_verifier": verifier})
    assert r.status_code == 200, r.text


# -- PKCE ---------------------------------------------------------------------------------------------

def test_malformed_code_challenges_and_methods_are_refused_at_authorize(gateway):
    """Defence: S256CodeChallenge (RFC 7636 §4.2: 43-128 characters of [A-Za-z0-9-._~]; method
    exactly S256). The redirect URI is verified, so the refusal goes back to it, without a code."""
    reg = register(gateway)
    bad = {
        "42 characters": {"code_challenge": CHALLENGE[:42]},
        "129 characters": {"code_challenge": "a" * 129},
        "base64 with +": {"code_challenge": CHALLENGE[:42] + "+"},
        "base64 with /": {"code_challenge": CHALLENGE[:42] + "/"},
        "padding": {"code_challenge": CHALLENGE + "="},
        "space": {"code_challenge": CHALLENGE[:21] + " " + CHALLENGE[22:]},
        "non-ASCII": {"code_challenge": "ก" * 43},
        "empty": {"code_challenge": ""},
        "method s256": {"code_challenge_method": "s256"},
        "method S512": {"code_challenge_method": "S512"},
        "method empty": {"code_challenge_method": ""},
        "method 'S256 '": {"code_challenge_method": "S256 "},
    }
    for name, over in bad.items():
        r = _send(gateway, "GET", base(reg, **over))
        assert r.status_code == 302, (name, r.status_code, r.text[:300])
        params = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
        assert r.headers["location"].startswith(REDIRECT_URI + "?"), name
        assert params["error"] == "invalid_request" and "code" not in params, (name, params)
        assert params["state"] == "st-123" and params["iss"] == gateway.url, (name, params)


def test_a_code_needs_the_verifier_of_its_own_flow(gateway):
    """Defence: S256 verification at the token endpoint (RFC 7636 §4.6). One code is probed with
    every wrong verifier, then redeemed with its own: a refusal does not use the code up (held by
    test_refusals_change_nothing), so each refusal here was the verifier's."""
    reg = register(gateway)
    mine, _s, _n, my_verifier, _rp, browser = login_flow(gateway, reg)
    theirs, _s2, _n2, their_verifier, _rp2, _b2 = login_flow(gateway, reg)
    from tests.test_token import s256

    wrong = {
        "another flow's verifier": (their_verifier, "invalid_grant"),
        "the challenge itself (a plain downgrade)": (s256(my_verifier), "invalid_grant"),
        "the verifier upper-cased": (my_verifier.upper(), "invalid_grant"),
        "the verifier and one more character": (my_verifier + "a", "invalid_grant"),
        "129 characters": ("a" * 129, "invalid_request"),
        "outside the character set": (my_verifier[:-1] + "+", "invalid_request"),
        "empty": ("", "invalid_request"),
    }
    for name, (verifier, error) in wrong.items():
        r = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret), timeout=20,
                       data={"grant_type": "authorization_code", "code": mine["code"], "redirect_uri": REDIRECT_URI,
                             "code_verifier": verifier})
        assert r.status_code == 400 and r.json()["error"] == error, (name, r.status_code, r.text)
    for code, verifier in ((mine["code"], my_verifier), (theirs["code"], their_verifier)):
        r = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret), timeout=20,
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                             "code_verifier": verifier})
        assert r.status_code == 200, r.text
