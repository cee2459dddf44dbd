"""The gateway session: prompt, max_age, login_hint, ui_locales, logout, cookie, throttling, audit."""

from urllib.parse import urlencode

import httpx
from jose import jwt as jose_jwt

from tests.flow import POST_LOGOUT, Browser, authorize_url, callback_params, exchange, login_flow, register, rp_client
from tests.test_token import audit_names


def id_claims(gateway, tok, reg):
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    return jose_jwt.decode(tok["id_token"], jwks, algorithms=["ES256"], audience=reg.client_id,
                           access_token=tok["access_token"])


def test_session_cookie_attributes_and_new_id_on_login(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    page = b.follow(b.get(url))
    action = page.text.split('action="')[1].split('"')[0]
    from tests.flow import form_fields
    _, hidden = form_fields(page.text)
    r = b.http.post(action, data={**hidden, "username": reg.username, "password": "correct horse battery staple"})
    cookie = [c for c in r.headers.get_list("set-cookie") if c.startswith("idgw_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    first = b.http.cookies["idgw_session"]
    # logging in again (prompt=login) issues a different session id, and the old one ends
    params, *_ = login_flow(gateway, reg, browser=b, prompt="login")
    assert b.http.cookies["idgw_session"] != first
    assert "session.ended" in audit_names(gateway)


def test_existing_session_and_prompt_none_give_a_code_without_pages(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, b = login_flow(gateway, reg)
    url, state, _, verifier = authorize_url(gateway, rp, prompt="none")
    params = callback_params(b.follow(b.get(url)))
    assert params["state"] == state and "code" in params
    # consent needed for a new scope -> consent_required under prompt=none
    rp2 = rp_client(gateway, reg, scope="openid citizen_id")
    url, *_ = authorize_url(gateway, rp2, prompt="none")
    assert callback_params(b.follow(b.get(url)))["error"] == "consent_required"


def test_prompt_none_without_session_is_login_required(gateway):
    reg = register(gateway)
    url, state, *_ = authorize_url(gateway, rp_client(gateway, reg), prompt="none")
    b = Browser(gateway)
    params = callback_params(b.follow(b.get(url)))
    assert params == {"error": "login_required", "error_description": params["error_description"],
                      "state": state, "iss": gateway.url}


def test_prompt_login_forces_a_new_login(gateway):
    reg = register(gateway)
    _, _, _, _, rp, b = login_flow(gateway, reg)
    url, *_ = authorize_url(gateway, rp, prompt="login")
    page = b.follow(b.get(url))
    assert 'name="password"' in page.text


def test_prompt_consent_asks_again(gateway):
    reg = register(gateway)
    _, _, _, _, rp, b = login_flow(gateway, reg)
    url, *_ = authorize_url(gateway, rp, prompt="consent")
    page = b.follow(b.get(url))
    assert 'value="allow"' in page.text and 'name="password"' not in page.text


def test_max_age_exceeded_forces_login_and_auth_time_is_reported(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, b = login_flow(gateway, reg)
    first = id_claims(gateway, exchange(gateway, rp, params["code"], verifier), reg)
    gateway.clock.advance(120)
    # within max_age: no login page, same auth_time
    url, _, _, verifier = authorize_url(gateway, rp, max_age="600")
    params = callback_params(b.follow(b.get(url)))
    assert id_claims(gateway, exchange(gateway, rp, params["code"], verifier), reg)["auth_time"] == first["auth_time"]
    # beyond max_age: the login page, and a newer auth_time afterwards
    url, _, _, verifier = authorize_url(gateway, rp, max_age="60")
    page = b.follow(b.get(url))
    assert 'name="password"' in page.text
    params = callback_params(b.login(page, reg.username))
    claims = id_claims(gateway, exchange(gateway, rp, params["code"], verifier), reg)
    assert claims["auth_time"] >= first["auth_time"] + 120


def test_max_age_zero_with_prompt_none_is_login_required(gateway):
    reg = register(gateway)
    _, _, _, _, rp, b = login_flow(gateway, reg)
    gateway.clock.advance(2)
    url, *_ = authorize_url(gateway, rp, prompt="none", max_age="0")
    assert callback_params(b.follow(b.get(url)))["error"] == "login_required"


def test_login_hint_prefills_and_ui_locales_switch_language(gateway):
    reg = register(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg), login_hint=reg.username, ui_locales="en-GB th")
    b = Browser(gateway)
    page = b.follow(b.get(url))
    assert f'value="{reg.username}"' in page.text
    assert 'lang="en"' in page.text and "Sign in" in page.text
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    page = Browser(gateway).follow(Browser(gateway).get(url)) if False else b.follow(b.get(url))
    assert 'lang="th"' in page.text and "เข้าสู่ระบบ" in page.text


def test_absolute_session_limit_aal1_is_30_days(gateway):
    reg = register(gateway)
    _, _, _, _, rp, b = login_flow(gateway, reg)
    gateway.clock.advance(29 * 24 * 3600)
    url, *_ = authorize_url(gateway, rp)
    assert "code" in callback_params(b.follow(b.get(url)))
    gateway.clock.advance(2 * 24 * 3600)
    url, *_ = authorize_url(gateway, rp)
    assert 'name="password"' in b.follow(b.get(url)).text


def test_wrong_password_then_throttling_then_lock(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    page = b.follow(b.get(url))
    for _ in range(5):
        page = b.login(page, reg.username, password="wrong password")
        assert page.status_code == 401 and "ไม่ถูกต้อง" in page.text
    page = b.login(page, reg.username, password="wrong password")
    # the sixth failure starts the slow-down: even the right password must wait
    page = b.login(page, reg.username)
    assert page.status_code == 429 and "วินาที" in page.text
    gateway.clock.advance(3)
    params = callback_params(b.consent(b.login(page, reg.username)))
    assert "code" in params
    names = audit_names(gateway)
    assert names.count("login.failed") == 6 and "session.created" in names


def test_hundred_consecutive_failures_lock_the_account(gateway):
    from idgw.login.password import LOCKED_FOREVER, authenticate_password
    from idgw.storage.models import Account

    reg = register(gateway)
    settings = gateway.gw.settings
    with gateway.db() as db:
        now = gateway.clock.now()
        for i in range(settings.max_failed_logins):
            db.get(Account, reg.account_id).locked_until = 0  # skip the waiting, keep the count
            out = authenticate_password(db, username=reg.username, password="nope", ip=f"10.9.{i // 40}.1",
                                        now=now, settings=settings)
            assert out.error == "invalid_credentials"
        assert db.get(Account, reg.account_id).locked_until == LOCKED_FOREVER
        out = authenticate_password(db, username=reg.username, password="correct horse battery staple",
                                    ip="10.9.9.9", now=now + 10**6, settings=settings)
        assert out.error == "locked"
        db.commit()
    assert "account.locked" in audit_names(gateway)


def test_per_ip_limit_covers_unknown_usernames(gateway):
    from idgw.login.password import authenticate_password

    settings = gateway.gw.settings
    with gateway.db() as db:
        now = gateway.clock.now()
        for i in range(settings.ip_max_failures_per_window):
            assert authenticate_password(db, username=f"ghost{i}", password="x", ip="192.0.2.7", now=now,
                                         settings=settings).error == "invalid_credentials"
        out = authenticate_password(db, username="ghost", password="x", ip="192.0.2.7", now=now, settings=settings)
        assert out.error == "throttled" and out.retry_after > 0
        out = authenticate_password(db, username="ghost", password="x", ip="192.0.2.7",
                                    now=now + settings.ip_window, settings=settings)
        assert out.error == "invalid_credentials"


def test_logout_with_id_token_hint_ends_session_and_redirects_with_state(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, b = login_flow(gateway, reg)
    tok = exchange(gateway, rp, params["code"], verifier)
    r = b.get("/logout?" + urlencode({"id_token_hint": tok["id_token"], "post_logout_redirect_uri": POST_LOGOUT,
                                      "state": "bye-1"}))
    assert r.status_code == 302 and r.headers["location"] == POST_LOGOUT + "?state=bye-1"
    assert "session.ended" in audit_names(gateway)
    url, *_ = authorize_url(gateway, rp, prompt="none")
    assert callback_params(b.follow(b.get(url)))["error"] == "login_required"


def test_logout_without_hint_asks_for_confirmation(gateway):
    reg = register(gateway)
    _, _, _, _, rp, b = login_flow(gateway, reg)
    page = b.get("/logout")
    assert page.status_code == 200 and 'value="yes"' in page.text
    done = b.submit(page, logout="yes")
    assert done.status_code == 200 and "ออกจากระบบแล้ว" in done.text
    url, *_ = authorize_url(gateway, rp, prompt="none")
    assert callback_params(b.follow(b.get(url)))["error"] == "login_required"


def test_logout_refusals(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, b = login_flow(gateway, reg)
    tok = exchange(gateway, rp, params["code"], verifier)
    # unregistered post_logout_redirect_uri: a page, no redirect
    r = b.get("/logout?" + urlencode({"id_token_hint": tok["id_token"], "post_logout_redirect_uri": "https://evil.example/"}))
    assert r.status_code == 400 and "location" not in r.headers
    # a tampered hint
    r = b.get("/logout?" + urlencode({"id_token_hint": tok["id_token"][:-3] + "AAA"}))
    assert r.status_code == 400
    # confirmation without CSRF token
    r = b.http.post("/logout", data={"logout": "yes"})
    assert r.status_code == 403
    # the session survived all of that
    url, *_ = authorize_url(gateway, rp, prompt="none")
    assert "code" in callback_params(b.follow(b.get(url)))


def test_the_session_cookie_is_set_and_cleared_with_the_same_attributes_by_every_page():
    """Every page that signs a person in or out (the interaction steps, the gateway's own sign-in,
    ThaiD and NDID, the account page) sets and clears the session cookie through one pair of
    functions: HttpOnly, SameSite=Lax, Path=/, and Secure exactly when the issuer is https. A
    clearing cookie with other attributes than the setting one would leave the browser's copy."""
    from starlette.responses import Response

    from idgw.settings import Settings
    from idgw.web.cookies import clear_session_cookie, set_session_cookie

    for issuer, secure in (("https://id.example.go.th", True), ("http://127.0.0.1:8000", False)):
        settings = Settings(issuer=issuer)
        set_response, clear_response = Response(), Response()
        set_session_cookie(settings, set_response, "abc")
        clear_session_cookie(settings, clear_response)
        (set_header,) = set_response.headers.getlist("set-cookie")
        (clear_header,) = clear_response.headers.getlist("set-cookie")
        assert set_header.startswith("idgw_session=abc;") and clear_header.startswith('idgw_session="";')
        for header in (set_header, clear_header):
            assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
            assert ("Secure" in header) is secure
        assert "Max-Age=0" in clear_header
