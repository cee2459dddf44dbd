"""Signing out reaches e-services: ending a gateway session revokes the tokens issued in it and
sends each e-service a signed logout token (OpenID Connect Back-Channel Logout 1.0).

Regression for the security review (item 2): after "sign out everywhere" and after RP-initiated
logout, refresh tokens issued in those sessions still worked and userinfo still answered."""

from __future__ import annotations

import httpx
import pytest
from jose import jwt as jose_jwt

from tests.flow import (
    POST_LOGOUT,
    Browser,
    add_service,
    exchange,
    form_fields,
    login_flow,
    register,
    wait_until,
)
from tests.security.receiver import Receiver

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def signed_in(gateway, reg, browser=None, **extra):
    params, _state, _nonce, verifier, rp, browser = login_flow(gateway, reg, browser=browser, **extra)
    return exchange(gateway, rp, params["code"], verifier), rp, browser


def refresh(gateway, rp, tokens) -> httpx.Response:
    return httpx.post(gateway.url + "/token", auth=(rp.client_id, rp.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})


def refresh_fails(gateway, rp, tokens) -> bool:
    answer = refresh(gateway, rp, tokens)
    return answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def userinfo_status(gateway, tokens) -> int:
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    return httpx.get(gateway.url + "/userinfo", headers=bearer).status_code


def verified_logout_token(gateway, token: str, *, client_id: str) -> dict:
    """Back-Channel Logout §2.6 checks, by python-jose (independent of the gateway's own code)."""
    header = jose_jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt" and header["kid"]
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    claims = jose_jwt.decode(token, jwks, algorithms=["ES256", "RS256"], audience=client_id,
                             issuer=gateway.url)
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims and claims["jti"] and claims["sid"] and claims["sub"]
    assert 0 < claims["exp"] - claims["iat"] <= 120
    return claims


def test_rp_initiated_logout_revokes_the_sessions_tokens_and_tells_the_service(gateway, receiver):
    reg = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
    tokens, rp, browser = signed_in(gateway, reg)
    id_claims = jose_jwt.get_unverified_claims(tokens["id_token"])
    assert userinfo_status(gateway, tokens) == 200

    out = browser.get("/logout?" + str(httpx.QueryParams({"id_token_hint": tokens["id_token"],
                                                          "post_logout_redirect_uri": POST_LOGOUT})))
    assert out.status_code == 302 and out.headers["location"].startswith(POST_LOGOUT)

    assert refresh_fails(gateway, rp, tokens)
    assert userinfo_status(gateway, tokens) == 401
    intro = httpx.post(gateway.url + "/introspect", auth=(rp.client_id, rp.client_secret),
                       data={"token": tokens["access_token"]}).json()
    assert intro == {"active": False}
    assert wait_until(lambda: len(receiver.received) == 1, timeout=10), receiver.received
    sent = receiver.received[0]
    assert sent["path"] == "/bcl" and sent["content_type"].startswith("application/x-www-form-urlencoded")
    claims = verified_logout_token(gateway, sent["form"]["logout_token"], client_id=reg.client_id)
    assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]
    with gateway.db() as db:
        from sqlalchemy import select

        from idgw.storage.models import AuditEvent

        assert db.scalar(select(AuditEvent).where(AuditEvent.name == "logout.delivered",
                                                  AuditEvent.client_id == reg.client_id)) is not None


def test_sign_out_everywhere_revokes_tokens_and_tells_the_service(gateway, receiver):
    reg = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
    tokens, rp, browser = signed_in(gateway, reg)
    # another device of the same person, with a token of its own
    other_tokens, _rp, _other = signed_in(gateway, reg)
    page = browser.get("/account/sessions/end-all")  # the confirmation page
    assert page.status_code == 200, page.text[:300]
    action, hidden = next((a, h) for a, h in _forms(page.text) if a.endswith("/sessions/end-all"))
    done = browser.http.post(action, data=hidden)
    assert done.status_code == 303

    for t in (tokens, other_tokens):
        assert refresh_fails(gateway, rp, t)
        assert userinfo_status(gateway, t) == 401
    assert wait_until(lambda: len(receiver.received) == 2, timeout=10), receiver.received
    sids = {verified_logout_token(gateway, t, client_id=reg.client_id)["sid"] for t in receiver.tokens()}
    assert sids == {jose_jwt.get_unverified_claims(t["id_token"])["sid"] for t in (tokens, other_tokens)}


def _forms(page: str):
    import html
    import re

    for m in re.finditer(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", page, re.S):
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', m.group(2)))
        yield html.unescape(m.group(1)), {k: html.unescape(v) for k, v in hidden.items()}


def test_signing_in_again_keeps_tokens_and_signing_out_ends_them_all(gateway, receiver):
    first = register(gateway, backchannel_logout_uri=receiver.url + "/a")
    second = add_service(gateway, like=first, backchannel_logout_uri=receiver.url + "/b")
    tokens_a, rp_a, browser = signed_in(gateway, first)
    # the same person signs in again (prompt=login) for another service in the same browser
    tokens_b, rp_b, _ = signed_in(gateway, second, browser=browser, prompt="login")
    renewed = refresh(gateway, rp_a, tokens_a)
    assert renewed.status_code == 200, "re-authenticating must not sign the person out"
    tokens_a = renewed.json()

    browser.get("/logout?" + str(httpx.QueryParams({"id_token_hint": tokens_b["id_token"]})))
    assert refresh_fails(gateway, rp_a, tokens_a) and refresh_fails(gateway, rp_b, tokens_b)
    assert wait_until(lambda: len(receiver.received) == 2, timeout=10)
    assert sorted(r["path"] for r in receiver.received) == ["/a", "/b"]


def test_another_person_signing_in_on_this_browser_signs_the_first_out(gateway, receiver):
    first = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
    tokens, rp, browser = signed_in(gateway, first)
    someone_else = register(gateway)
    signed_in(gateway, someone_else, browser=browser, prompt="login")
    assert refresh_fails(gateway, rp, tokens)
    assert wait_until(lambda: len(receiver.received) == 1, timeout=10)


def test_undelivered_notices_are_retried_with_back_off_then_given_up(gateway, receiver):
    from sqlalchemy import select

    from idgw.storage.models import AuditEvent, LogoutDelivery

    reg = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
    receiver.statuses = [503, 500]  # two failures, then 200
    tokens, _rp, browser = signed_in(gateway, reg)
    browser.get("/logout?" + str(httpx.QueryParams({"id_token_hint": tokens["id_token"]})))
    assert wait_until(lambda: len(receiver.received) == 1, timeout=30)
    gateway.clock.advance(6)
    gateway.gw.backchannel.wake()
    assert wait_until(lambda: len(receiver.received) == 2, timeout=30)
    gateway.clock.advance(31)
    gateway.gw.backchannel.wake()
    assert wait_until(lambda: len(receiver.received) == 3, timeout=30)

    def delivered():
        with gateway.db() as db:
            row = db.scalar(select(LogoutDelivery).where(LogoutDelivery.client_id == reg.client_id))
            return row.delivered_at is not None and row.attempts == 3
    assert wait_until(delivered, timeout=30)
    # the same logout token is never re-sent: each attempt is signed afresh (new jti)
    assert len({jose_jwt.get_unverified_claims(t)["jti"] for t in receiver.tokens()}) == 3

    # a service that refuses the token (400) is not asked again
    refusing = register(gateway, backchannel_logout_uri=receiver.url + "/refuses")
    receiver.statuses = [400]
    tokens, _rp, browser = signed_in(gateway, refusing)
    browser.get("/logout?" + str(httpx.QueryParams({"id_token_hint": tokens["id_token"]})))

    def failed():
        with gateway.db() as db:
            return db.scalar(select(AuditEvent).where(AuditEvent.name == "logout.failed",
                                                      AuditEvent.client_id == refusing.client_id)) is not None
    assert wait_until(failed, timeout=30)
    gateway.clock.advance(7200)
    gateway.gw.backchannel.wake()
    assert gateway.gw.backchannel.deliver_due() == 0
    assert [r["path"] for r in receiver.received].count("/refuses") == 1


def test_discovery_advertises_back_channel_logout(gateway):
    meta = httpx.get(gateway.url + "/.well-known/openid-configuration").json()
    assert meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True


def test_registration_refuses_a_fragment_or_non_https_logout_uri(gateway):
    from idgw.admin import AdminError, add_client

    with gateway.db() as db:
        for bad in ("https://rp.example/bcl#x", "http://rp.example/bcl", "not a url"):
            with pytest.raises(AdminError):
                add_client(db, name="x", redirect_uris=["https://rp.example/cb"], backchannel_logout_uri=bad,
                           now=gateway.clock.now())


def test_demo_service_ends_its_session_on_a_back_channel_logout(gateway, demo_rp):
    """The demo e-service honours the notice: after the person signs out at the gateway (here
    with "sign out everywhere"), the demo no longer shows them signed in."""
    from idgw.admin import add_user

    with gateway.db() as db:
        add_user(db, username="demo-person", password="demo-password-123", now=gateway.clock.now())
        db.commit()
    # one cookie jar for the person's browser (the gateway and the demo are both on 127.0.0.1)
    http = httpx.Client(follow_redirects=True, timeout=20)
    page = http.get(demo_rp + "/login")
    action, hidden = form_fields(page.text)
    page = http.post(str(page.url.join(action)), data={**hidden, "username": "demo-person",
                                                         "password": "demo-password-123"})
    if 'value="allow"' in page.text:
        action, hidden = form_fields(page.text)
        page = http.post(str(page.url.join(action)), data={**hidden, "decision": "allow"})
    assert page.status_code == 200 and "Signed in" in page.text, page.text[:500]
    demo = httpx.Client(base_url=demo_rp, cookies=http.cookies, timeout=20)
    browser = Browser(gateway)
    browser.http.cookies = http.cookies
    assert "Submit a request" in demo.get("/").text
    account = browser.get("/account/sessions/end-all")  # the confirmation page
    action, hidden = next((a, h) for a, h in _forms(account.text) if a.endswith("/sessions/end-all"))
    browser.http.post(action, data=hidden)
    assert wait_until(lambda: "Please sign in" in demo.get("/").text, timeout=10)


def test_a_forged_logout_form_is_refused_as_forged_whatever_else_it_says(gateway):
    """A cross-site POST /logout without the form's token is 403 (not a 400 about the other fields
    it carries, which would tell the forger which of them the gateway checks) and signs nobody out."""
    reg = register(gateway)
    tokens, rp, browser = signed_in(gateway, reg)
    for extra in ({}, {"post_logout_redirect_uri": "https://evil.example/after", "client_id": reg.client_id},
                  {"post_logout_redirect_uri": POST_LOGOUT, "client_id": reg.client_id}):
        forged = browser.http.post(gateway.url + "/logout", data={"logout": "yes", "csrf_token": "forged", **extra})
        assert forged.status_code == 403, (extra, forged.status_code)
        assert "location" not in forged.headers
        renewed = refresh(gateway, rp, tokens)
        assert renewed.status_code == 200  # still signed in
        tokens = renewed.json()
