"""Attacks that held (security review): response headers on every page the flows visit, cookie
attributes, and markup an attacker controls coming back escaped, over real HTTP.

Headers: the pages are walked as a citizen, a staff member and an e-service would (sign-in,
consent, a further factor, errors, logout, the account page, staff sign-in and step-up, admin),
every response recorded on the way. tests/test_discovery.py checks CSP, nosniff and
Referrer-Policy on the home page, discovery and one error page; tests/test_token.py and
tests/test_tokens_use.py check Cache-Control on one token and one userinfo answer.

XSS: a client name, a login_hint, a state and an error description carrying markup are shown
escaped (Jinja2 autoescape; the CSP forbids inline script besides)."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import httpx
import pytest

from idgw.storage.models import Account, Client
from tests.flow import (
    PASSWORD,
    POST_LOGOUT,
    Browser,
    authorize_url,
    exchange,
    form_fields,
    login_flow,
    register,
    rp_client,
)
from tests.stepup import FIXTURE_CODE, enable_second_factor
from tests.test_admin_pages import make_admin
from tests.test_authorize import base

# Headers and escaping are the same whatever the database: SQLite only, to keep the suite quick.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PAGE_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY",
                "cache-control": "no-store"}
#: Markup in every context a page can put it: element text, a double- or single-quoted attribute.
MARKUP = """<script>alert(1)</script>"'><img src=x onerror=alert(2)>"""


class Recorder:
    """Every response seen by the browsers it makes: (method, url, status, headers)."""

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self.seen: list[tuple[str, str, int, httpx.Headers]] = []

    def _record(self, response: httpx.Response) -> None:
        self.seen.append((response.request.method, str(response.request.url), response.status_code,
                          response.headers))

    def browser(self) -> Browser:
        b = Browser(self.gateway)
        b.http.event_hooks = {"request": [], "response": [self._record]}
        return b

    def pages(self) -> list[tuple[str, str, int, httpx.Headers]]:
        return [s for s in self.seen if s[3].get("content-type", "").startswith("text/html")]


def assert_page_headers(method: str, url: str, status: int, headers: httpx.Headers) -> None:
    where = (method, url, status)
    csp = headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], (where, csp)
    assert directives.get("default-src") == ["'none'"], (where, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "data:" not in directives.get(
        "script-src", []), (where, csp)
    for name, value in PAGE_HEADERS.items():
        assert headers.get(name) == value, (where, name, headers.get(name))


def assert_cookie_attributes(seen) -> int:
    count = 0
    for method, url, _status, headers in seen:
        for cookie in headers.get_list("set-cookie"):
            attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
            assert "httponly" in attrs, (method, url, cookie)
            assert any(a.startswith("samesite=") and a != "samesite=none" for a in attrs), (method, url, cookie)
            count += 1
    return count


def test_every_page_the_flows_visit_carries_the_security_headers(gateway):
    """Defence: SecurityHeaders middleware (idgw.app) and Pages.render's Cache-Control; cookies set
    with HttpOnly and SameSite (idgw.web.pages, routes, admin, account)."""
    rec = Recorder(gateway)
    reg = register(gateway)
    # a citizen: error pages, sign-in (forged, wrong, then right), consent, the home page, logout
    b = rec.browser()
    b.get("/authorize?" + urlencode(base(reg, client_id="no-such-client")))
    b.get("/authorize?" + urlencode(base(reg, redirect_uri="https://evil.test/cb")))
    b.get("/interaction/no-such-interaction")
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    page = b.follow(b.get(url))
    b.http.post(form_fields(page.text)[0], data={"username": reg.username, "password": "x"})  # no CSRF: 403 page
    page = b.login(page, reg.username, password="wrong password")
    consent = b.login(page, reg.username)
    assert "code=" in b.consent(consent).headers["location"]
    b.get("/?lang=en")
    b.get("/logout?" + urlencode({"state": "s"}))
    b.submit(b.get("/logout"), logout="yes")
    # a further factor for a stronger service
    strong = register(gateway, policy={"min_aal": "2.1"})
    enable_second_factor(gateway, strong.username)
    s = rec.browser()
    url, *_ = authorize_url(gateway, rp_client(gateway, strong))
    factor = s.login(s.follow(s.get(url)), strong.username)
    assert "fixture-otp" in form_fields(factor.text)[0]
    s.submit(factor, code="000000")  # a wrong code: the factor page again, with its error
    # the account page: sign in, enrol an app (QR page), recovery codes
    a = rec.browser()
    page = a.get("/signin?next=/account")
    a.submit(page, username=reg.username, password=PASSWORD)
    account = a.get("/account")
    token = re.search(r'name="csrf_token" value="([^"]+)"', account.text).group(1)
    assert a.http.post("/account/totp", data={"csrf_token": token}).status_code == 200
    assert a.http.post("/account/recovery", data={"csrf_token": token}).status_code == 200
    # staff: sign-in, step-up, the services and one service's policy page
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    st = rec.browser()
    page = st.follow(st.get("/admin/services"))
    page = st.submit(page, username=admin, password=PASSWORD)
    page = st.submit(page, code=FIXTURE_CODE)
    assert "/admin/services/" in page.text
    st.get(f"/admin/services/{reg.client_id}")
    st.get("/admin/services/no-such-client")

    visited = {(m, re.sub(r"/interaction/[^/?]+", "/interaction/ID", httpx.URL(u).path), st_)
               for m, u, st_, _h in rec.pages()}
    paths = {p for _m, p, _s in visited}
    for expected in ("/authorize", "/interaction/ID", "/interaction/ID/login", "/interaction/ID/factor/fixture-otp",
                     "/logout", "/", "/signin", "/account", "/account/totp", "/account/recovery",
                     "/signin/factor/fixture-hwk_uv", "/admin/services", f"/admin/services/{reg.client_id}",
                     "/admin/services/no-such-client"):
        assert expected in paths, (expected, sorted(paths))
    assert {s for _m, _p, s in visited} >= {200, 400, 401, 403, 404}, sorted(visited)
    for method, u, status, headers in rec.pages():
        assert_page_headers(method, u, status, headers)
    assert assert_cookie_attributes(rec.seen) >= 4  # browser id, session (set and cleared), language

    # The JSON endpoints: answers carrying tokens or personal data are never stored by a cache.
    auth = (reg.client_id, reg.client_secret)
    tokens = fresh_tokens(gateway, reg)
    json_answers = {
        "token refresh": httpx.post(gateway.url + "/token", auth=auth, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        "token error": httpx.post(gateway.url + "/token", auth=auth, data={"grant_type": "refresh_token",
                                                                           "refresh_token": "x"}),
        "token bad client": httpx.post(gateway.url + "/token", auth=(reg.client_id, "wrong"),
                                       data={"grant_type": "refresh_token", "refresh_token": "x"}),
        "userinfo": httpx.get(gateway.url + "/userinfo", headers={
            "Authorization": "Bearer " + tokens["access_token"]}),
        "userinfo refused": httpx.get(gateway.url + "/userinfo", headers={"Authorization": "Bearer x.y.z"}),
        "introspection": httpx.post(gateway.url + "/introspect", auth=auth, data={"token": tokens["access_token"]}),
        "introspection bad client": httpx.post(gateway.url + "/introspect", auth=(reg.client_id, "wrong"),
                                               data={"token": tokens["access_token"]}),
    }
    assert json_answers["token refresh"].status_code == 200 and json_answers["userinfo"].status_code == 200
    for name, r in json_answers.items():
        assert r.headers["content-type"].startswith("application/json"), name
        assert r.headers.get("cache-control") == "no-store", (name, r.status_code, r.headers.get("cache-control"))
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), name
        assert not r.headers.get_list("set-cookie"), name


def fresh_tokens(gateway, reg) -> dict:
    params, _s, _n, verifier, rp, _b = login_flow(gateway, reg)
    return exchange(gateway, rp, params["code"], verifier)


# -- markup the attacker controls ----------------------------------------------------------------------

def assert_escaped(page: httpx.Response, what: str) -> None:
    """No markup of the payload survives; the payload is shown (escaped), so the check is not empty."""
    body = page.text
    scripts = re.findall(r"<script[^>]*>", body, re.I)
    assert scripts == ['<script src="/static/webauthn.js" defer>'], (what, scripts)
    assert "<img src=x" not in body and re.search(r"""["']><img""", body) is None, what  # nor a broken attribute
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, (what, "the payload is not shown at all")


def test_markup_in_a_client_name_login_hint_state_and_error_is_escaped(gateway):
    """Defence: Jinja2 autoescape on every template (idgw.web.pages), URL-encoding of parameters in
    links and redirects. (The person's own name, shown on the consent and account pages, too.)"""
    reg = register(gateway)
    with gateway.db() as db:
        db.get(Client, reg.client_id).name = "บริการ " + MARKUP
        # a name as an upstream identity source may assert it (ThaiD claims become the account's)
        db.get(Account, reg.account_id).given_name_th = MARKUP
        db.commit()
    b = Browser(gateway)
    # the client name and the login_hint on the sign-in page
    url, *_ = authorize_url(gateway, rp_client(gateway, reg), login_hint=MARKUP)
    login = b.follow(b.get(url))
    assert 'name="password"' in login.text
    assert_escaped(login, "login page")
    hint = re.search(r'id="username"[^>]*value="([^"]*)"', login.text).group(1)
    assert html.unescape(hint) == MARKUP  # prefilled, inside its attribute
    # the client name and the person's name on the consent page, the name on the account page
    consent = b.login(login, reg.username)
    assert 'value="allow"' in consent.text
    assert_escaped(consent, "consent page")
    assert_escaped(b.get("/account"), "account page")
    # the state: in the language link of the sign-in page, and carried by the logout confirmation
    url, *_ = authorize_url(gateway, rp_client(gateway, reg), prompt="login", state=MARKUP)
    page = b.follow(b.get(url))
    assert "&state=" + urlencode({"": MARKUP})[1:] in html.unescape(page.text)
    assert re.search(r"""["']><img""", page.text) is None and "<script>alert" not in page.text
    logout = b.get("/logout?" + urlencode({"state": MARKUP, "post_logout_redirect_uri": POST_LOGOUT,
                                           "client_id": reg.client_id}))
    assert 'value="yes"' in logout.text
    carried = re.search(r'name="state" value="([^"]*)"', logout.text).group(1)
    assert html.unescape(carried) == MARKUP
    assert "<script>alert" not in logout.text and re.search(r"""["']><img""", logout.text) is None
    # the state and an error description going back to the service are URL-encoded in the redirect
    r = httpx.get(gateway.url + "/authorize?" + urlencode(base(reg, state=MARKUP, prompt=MARKUP)))
    assert r.status_code == 302 and not set("<>\"' ") & set(r.headers["location"]), r.headers["location"]
    # an error description with markup on the gateway's own error page (a repeated parameter's name)
    query = "&".join([urlencode(base(reg)), urlencode({MARKUP: "1"}), urlencode({MARKUP: "2"})])
    error = httpx.get(gateway.url + "/authorize?" + query)
    assert error.status_code == 400 and "location" not in error.headers, error.status_code
    assert_escaped(error, "error page")
    # the client name where staff see it
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    st = Browser(gateway)
    page = st.submit(st.submit(st.follow(st.get("/admin/services")), username=admin, password=PASSWORD),
                     code=FIXTURE_CODE)
    assert reg.client_id in page.text
    assert_escaped(page, "admin services page")
    assert_escaped(st.get(f"/admin/services/{reg.client_id}"), "admin service page")
