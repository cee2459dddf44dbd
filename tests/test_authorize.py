"""The authorization endpoint's refusals: errors before the client and redirect URI are known
are pages; later errors go back to the client with state and iss."""

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.flow import REDIRECT_URI, Browser, callback_params, register

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSstw-cM"  # RFC 7636 appendix B


def authorize(gateway, **params):
    return httpx.get(gateway.url + "/authorize?" + urlencode(params), follow_redirects=False)


def base(reg, **over):
    p = dict(response_type="code", client_id=reg.client_id, redirect_uri=REDIRECT_URI, scope="openid profile",
             state="st-123", nonce="n-1", code_challenge=CHALLENGE, code_challenge_method="S256")
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


def redirected_error(response):
    assert response.status_code == 302, response.text[:300]
    loc = response.headers["location"]
    assert loc.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}


def test_unknown_client_is_a_page_not_a_redirect(gateway):
    reg = register(gateway)
    r = authorize(gateway, **base(reg, client_id="no-such-client"))
    assert r.status_code == 400 and "location" not in r.headers
    assert "ไม่รู้จักบริการ" in r.text  # Thai by default


def test_wrong_redirect_uri_is_a_page_not_a_redirect(gateway):
    reg = register(gateway)
    for wrong in (REDIRECT_URI + "/extra", REDIRECT_URI.upper(), REDIRECT_URI + "?x=1", "https://evil.example/cb"):
        r = authorize(gateway, **base(reg, redirect_uri=wrong))
        assert r.status_code == 400 and "location" not in r.headers, wrong
    r = authorize(gateway, **base(reg, redirect_uri=None))
    assert r.status_code == 400 and "location" not in r.headers


def test_repeated_parameter_is_refused_as_a_page(gateway):
    reg = register(gateway)
    query = urlencode(base(reg)) + "&state=again"
    r = httpx.get(gateway.url + "/authorize?" + query, follow_redirects=False)
    assert r.status_code == 400 and "location" not in r.headers and "repeated" in r.text


@pytest.mark.parametrize("over,error", [
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"prompt": "none"}, "login_required"),
    ({"prompt": "select_everything"}, "invalid_request"),
    ({"max_age": "-5"}, "invalid_request"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"response_mode": "fragment"}, "invalid_request"),
])
def test_errors_after_redirect_uri_check_go_back_with_state_and_iss(gateway, over, error):
    reg = register(gateway)
    params = redirected_error(authorize(gateway, **base(reg, **over)))
    assert params["error"] == error
    assert params["state"] == "st-123"
    assert params["iss"] == gateway.url
    assert "code" not in params


def test_implicit_and_password_grants_do_not_exist(gateway):
    reg = register(gateway)
    r = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                   data={"grant_type": "password", "username": reg.username, "password": "x"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_consent_page_lists_claims_and_deny_returns_access_denied(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    page = b.follow(b.get("/authorize?" + urlencode(base(reg, scope="openid profile email citizen_id"))))
    page = b.login(page, reg.username)
    assert page.status_code == 200
    for text in ("ชื่อ-นามสกุล", "อีเมล", "เลขประจำตัวประชาชน"):
        assert text in page.text
    params = callback_params(b.consent(page, decision="deny"))
    assert params["error"] == "access_denied" and params["state"] == "st-123" and params["iss"] == gateway.url


def test_interaction_is_bound_to_the_browser_that_started_it(gateway):
    reg = register(gateway)
    victim = Browser(gateway)
    first = victim.get("/authorize?" + urlencode(base(reg)))
    # the first step is shown at once (no redirect); its form posts to the interaction
    assert first.status_code == 200 and 'name="password"' in first.text
    interaction = first.text.split('action="')[1].split('"')[0].removesuffix("/login")
    assert interaction.startswith("/interaction/")
    assert 'name="password"' in victim.get(interaction).text
    attacker = Browser(gateway)
    r = attacker.get(interaction)
    assert r.status_code == 400 and 'name="password"' not in r.text


def test_login_form_without_csrf_token_is_refused(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    page = b.follow(b.get("/authorize?" + urlencode(base(reg))))
    action = page.text.split('action="')[1].split('"')[0]
    r = b.http.post(action, data={"username": reg.username, "password": "correct horse battery staple"})
    assert r.status_code == 403
    r = b.http.post(action, data={"username": reg.username, "password": "correct horse battery staple",
                                  "csrf_token": "0" * 64})
    assert r.status_code == 403
    with gateway.db() as db:
        from sqlalchemy import select

        from idgw.storage.models import AuditEvent
        assert not db.scalars(select(AuditEvent).where(AuditEvent.name == "session.created")).all()


def test_expired_interaction_says_so(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    page = b.follow(b.get("/authorize?" + urlencode(base(reg))))
    gateway.clock.advance(gateway.gw.settings.interaction_ttl + 1)
    try:
        r = b.login(page, reg.username)
    finally:
        gateway.clock.advance(-(gateway.gw.settings.interaction_ttl + 1))
    assert r.status_code == 400 and "หมดอายุ" in r.text


def test_oversized_form_is_refused_and_changes_nothing(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    page = b.follow(b.get("/authorize?" + urlencode(base(reg))))
    action = page.text.split('action="')[1].split('"')[0]
    r = b.http.post(action, data={"username": reg.username, "password": "x" * 40_000})
    assert r.status_code == 413
    # the sign-in page still works afterwards
    assert b.get(action.rsplit("/", 1)[0]).status_code == 200
