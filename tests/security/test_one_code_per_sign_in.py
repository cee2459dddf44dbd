"""One interaction yields at most one authorization code, on SQLite and PostgreSQL (security
review item 18): four parallel "Allow" submissions for a new user gave one 303 and three 500s
(duplicate key) on PostgreSQL, and a double submit when consent already existed issued two codes.
Every repeated submit now answers with the same single-use code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from idgw.storage.models import AuthorizationCode, Consent
from tests.flow import Browser, authorize_url, exchange, form_fields, register, rp_client


def code_of(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def codes_for(gateway, client_id) -> int:
    with gateway.db() as db:
        return db.scalar(select(func.count()).select_from(AuthorizationCode)
                         .where(AuthorizationCode.client_id == client_id))


def in_parallel(browser: Browser, n: int, send):
    clients = [httpx.Client(base_url=browser.gateway.url, cookies=browser.http.cookies, follow_redirects=False,
                            timeout=30) for _ in range(n)]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(send, clients))


def test_parallel_allow_for_a_new_user_gives_one_code(gateway):
    reg = register(gateway)
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    url, _state, _nonce, verifier = authorize_url(gateway, rp)
    consent = browser.login(browser.follow(browser.get(url)), reg.username)
    action, hidden = form_fields(consent.text)
    answers = in_parallel(browser, 4, lambda c: c.post(action, data={**hidden, "decision": "allow"}))
    codes = {code_of(a) for a in answers}
    assert len(codes) == 1, [a.status_code for a in answers]
    assert codes_for(gateway, reg.client_id) == 1
    with gateway.db() as db:
        assert db.scalar(select(func.count()).select_from(Consent).where(Consent.client_id == reg.client_id)) == 1
    tokens = exchange(gateway, rp, codes.pop(), verifier)
    assert tokens["access_token"]


def test_a_double_submit_when_consent_exists_gives_one_code(gateway):
    reg = register(gateway)
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    url, _state, _nonce, verifier = authorize_url(gateway, rp)
    browser.consent(browser.login(browser.follow(browser.get(url)), reg.username))  # consent now exists
    before = codes_for(gateway, reg.client_id)
    url, _state, _nonce, verifier = authorize_url(gateway, rp, prompt="login")
    page = browser.follow(browser.get(url))
    action, hidden = form_fields(page.text)
    signed_in = browser.http.post(action, data={**hidden, "username": reg.username,
                                                "password": "correct horse battery staple"})
    assert signed_in.status_code == 303
    # the step that issues the code, submitted three times at once (a double click, a reload)
    target = signed_in.headers["location"]
    finals = in_parallel(browser, 3, lambda c: c.get(target))
    codes = {code_of(f) for f in finals}
    assert len(codes) == 1 and codes_for(gateway, reg.client_id) == before + 1
    assert exchange(gateway, rp, codes.pop(), verifier)["access_token"]
    # and with prompt=consent, Allow submitted three times at once
    url, _state, _nonce, verifier = authorize_url(gateway, rp, prompt="consent")
    consent = browser.follow(browser.get(url))
    action, hidden = form_fields(consent.text)
    answers = in_parallel(browser, 3, lambda c: c.post(action, data={**hidden, "decision": "allow"}))
    assert len({code_of(a) for a in answers}) == 1 and codes_for(gateway, reg.client_id) == before + 2


def test_a_reload_after_the_code_went_out_repeats_it_then_expires(gateway):
    reg = register(gateway)
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    url, _state, _nonce, _verifier = authorize_url(gateway, rp)
    consent = browser.login(browser.follow(browser.get(url)), reg.username)
    action, hidden = form_fields(consent.text)
    first = browser.http.post(action, data={**hidden, "decision": "allow"})
    again = browser.http.post(action, data={**hidden, "decision": "allow"})
    assert code_of(first) == code_of(again)
    # another browser gets nothing
    stranger = httpx.Client(base_url=gateway.url, follow_redirects=False)
    assert stranger.post(action, data={**hidden, "decision": "allow"}).status_code in (400, 403)
    # after the code's lifetime the repeat is refused
    gateway.clock.advance(gateway.gw.settings.code_ttl + 1)
    assert browser.http.post(action, data={**hidden, "decision": "allow"}).status_code == 400
