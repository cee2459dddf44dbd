"""Malformed and oversized input gets a clear 4xx in the endpoint's own format and stores nothing
(security review items 7, 15 and 17).

Found: 500s from a '"' in an unregistered redirect_uri or in response_type (Authlib refusing its
own error text), from non-ASCII response_type, from deeply nested JSON in ``claims`` and on
/webauthn/options (RecursionError), from a NUL anywhere PostgreSQL saw it; and every anonymous
GET /authorize wrote a row (714 rows per second from one client), with state and nonce of any size."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from idgw.storage.models import Interaction
from tests.conftest import start_gateway
from tests.flow import REDIRECT_URI, authorize_url, login_flow, register, rp_client


def interactions(gateway) -> int:
    with gateway.db() as db:
        return db.scalar(select(func.count()).select_from(Interaction))


def is_page(answer: httpx.Response) -> bool:
    return answer.headers["content-type"].startswith("text/html")


def is_json(answer: httpx.Response) -> bool:
    return answer.headers["content-type"].startswith("application/json")


def test_characters_authlib_refuses_in_its_own_errors_are_a_400_page(gateway):
    reg = register(gateway)
    base = {"client_id": reg.client_id, "scope": "openid", "code_challenge": "x" * 43,
            "code_challenge_method": "S256"}
    for extra in ({"response_type": "code", "redirect_uri": 'https://evil.test/"x'},
                  {"response_type": 'code"', "redirect_uri": REDIRECT_URI},
                  {"response_type": "โค้ด", "redirect_uri": REDIRECT_URI},
                  {"response_type": "code", "redirect_uri": "https://evil.test/\\x"}):
        answer = httpx.get(gateway.url + "/authorize", params={**base, **extra})
        assert answer.status_code == 400 and is_page(answer), (extra, answer.status_code)


def test_deeply_nested_json_is_invalid_request_not_a_500(gateway):
    reg = register(gateway)
    deep = "{" + '"a":{' * 3000 + "}" * 3001
    url, *_ = authorize_url(gateway, rp_client(gateway, reg), claims=deep[:4000])
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code in (302, 400)
    if answer.status_code == 302:
        assert "error=invalid_request" in answer.headers["location"]
    page = httpx.get(gateway.url + "/signin")
    cookie = page.cookies.get("idgw_browser")
    csrf = gateway.gw.pages.csrf_token(cookie, "webauthn")
    for body in (b"[" * 1500 + b"]" * 1500, b'{"purpose": ' + b"[" * 900 + b"]" * 900 + b"}", b"\xff", b"[]"):
        answer = httpx.post(gateway.url + "/webauthn/options", content=body, cookies={"idgw_browser": cookie},
                            headers={"content-type": "application/json", "x-csrf-token": csrf})
        assert answer.status_code in (400, 413) and is_json(answer), (body[:20], answer.status_code)


@pytest.mark.parametrize("path,kind", [
    ("/authorize?client_id=%00&response_type=code", "page"), ("/interaction/%00", "page"),
    ("/interaction/a%00b/consent", "page"), ("/logout?client_id=%00", "page"), ("/signin?next=%00", "page"),
    ("/?lang=%00", "page"), ("/userinfo?x=%00", "json"), ("/upstream/ndid/ndid-callback/%00", "json"),
])
def test_a_nul_anywhere_in_the_url_is_a_400_in_the_endpoints_format(gateway, path, kind):
    answer = httpx.get(gateway.url + path)
    assert answer.status_code == 400, answer.text[:200]
    assert is_page(answer) if kind == "page" else is_json(answer)


def test_a_nul_in_a_form_or_a_token_request_is_a_400(gateway):
    reg = register(gateway)
    token = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                       data={"grant_type": "authorization_code", "code": "a\x00b"})
    assert token.status_code == 400 and is_json(token)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    with httpx.Client(follow_redirects=True) as browser:
        login = browser.get(url)
        action = login.text.split('action="', 1)[1].split('"', 1)[0]
        csrf = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = browser.post(gateway.url + action, data={"csrf_token": csrf, "username": "a\x00b",
                                                           "password": "x"})
    assert answer.status_code == 400 and is_page(answer)


def test_refused_authorization_requests_store_nothing(gateway):
    reg = register(gateway)
    rp = rp_client(gateway, reg)
    before = interactions(gateway)
    for extra in ({"state": "s" * 1025}, {"nonce": "n" * 1025}, {"login_hint": "h" * 300},
                  {"acr_values": "urn:idgw:aal:9"}, {"claims": "{"}, {"prompt": "sometimes"},
                  {"scope": "profile"}):
        url, *_ = authorize_url(gateway, rp, **extra)
        answer = httpx.get(url, follow_redirects=False)
        assert answer.status_code == 302 and "error=" in answer.headers["location"], extra
        if "state" in extra:
            assert "state=" not in answer.headers["location"]  # an oversized state is not echoed
    # an over-long query string is refused before anything else (a page: nothing is verified yet)
    url, *_ = authorize_url(gateway, rp, login_hint="x" * 9000)
    assert httpx.get(url).status_code == 400
    # a POSTed request over the body cap is refused while it streams
    assert httpx.post(gateway.url + "/authorize", data={"state": "s" * 20000}).status_code == 413
    assert interactions(gateway) == before
    # a request answered at once keeps nothing either: an error redirect for prompt=none...
    url, *_ = authorize_url(gateway, rp, prompt="none")
    assert "login_required" in httpx.get(url, follow_redirects=False).headers["location"]
    assert interactions(gateway) == before
    # ...and a code straight back for a signed-in person who has consented (only the sign-in's
    # own interaction, which showed pages, is kept)
    _p, _s, _n, _v, rp, browser = login_flow(gateway, reg)
    signed_in = interactions(gateway)
    for _ in range(3):
        url, *_ = authorize_url(gateway, rp)
        assert "code=" in browser.get(url).headers["location"]
    assert interactions(gateway) == signed_in


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_anonymous_requests_that_write_are_budgeted_per_ip(database_url):
    g = start_gateway(database_url, rate_per_ip=5, rate_window=60)
    try:
        reg = register(g)
        url, *_ = authorize_url(g, rp_client(g, reg))
        answers = [httpx.get(url, follow_redirects=False) for _ in range(8)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
        assert int(answers[-1].headers["retry-after"]) > 0 and is_page(answers[-1])
        assert interactions(g) == 5
        # the budget comes back with the next window
        g.clock.advance(61)
        assert httpx.get(url, follow_redirects=False).status_code == 200
        # passkey options (each stores a challenge) have a budget of their own
        page = httpx.get(g.url + "/signin")
        cookie = page.cookies.get("idgw_browser")
        csrf = g.gw.pages.csrf_token(cookie, "webauthn")
        statuses = [httpx.post(g.url + "/webauthn/options", json={"purpose": "login"},
                               cookies={"idgw_browser": cookie}, headers={"x-csrf-token": csrf}).status_code
                    for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
    finally:
        g.stop()
        g.gw.engine.dispose()


def test_discovery_still_answers_json_for_unknown_paths_and_methods(gateway):
    for method, path in (("GET", "/token"), ("PUT", "/userinfo"), ("GET", "/no-such-api/x")):
        answer = httpx.request(method, gateway.url + path)
        assert 400 <= answer.status_code < 500
        if path != "/no-such-api/x":
            assert is_json(answer), (method, path, answer.headers["content-type"])
    assert json.loads(httpx.get(gateway.url + "/.well-known/openid-configuration").text)["issuer"]
