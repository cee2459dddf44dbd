"""Cookies the browser cannot choose, and logout hints that must be ID tokens (security review
items 12 and 11).

Found: the gateway adopted a browser-chosen ``idgw_browser`` value, on which CSRF tokens and the
binding of a sign-in to its browser depend; cookies had no ``__Host-`` prefix on https; and
``/logout`` accepted an access token as ``id_token_hint``."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import free_port, start_gateway
from tests.flow import POST_LOGOUT, Browser, authorize_url, exchange, login_flow, register, rp_client

CHOSEN = "chosen-by-the-attacker-0123456789"


def set_cookies(response: httpx.Response) -> dict[str, str]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        out[name] = rest
    return out


def test_a_browser_chosen_browser_id_is_never_adopted(gateway):
    reg = register(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    first = httpx.get(url, headers={"cookie": f"idgw_browser={CHOSEN}"}, follow_redirects=False)
    issued = set_cookies(first)["idgw_browser"].split(";")[0]
    assert issued != CHOSEN and "." in issued
    # the sign-in is bound to the issued id: its forms do not work with the chosen one
    action = first.headers.get("location") or ""
    page = Browser(gateway)
    login = page.follow(page.get(url))
    form_action = login.text.split('action="', 1)[1].split('"', 1)[0]
    posted = httpx.post(gateway.url + form_action, headers={"cookie": f"idgw_browser={CHOSEN}"},
                        data={"username": reg.username, "password": "x", "csrf_token": "0" * 64})
    assert posted.status_code in (400, 403) and not action
    # a well-formed value whose tag is wrong is dropped too
    forged = issued.split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    again = httpx.get(url, headers={"cookie": f"idgw_browser={forged}"}, follow_redirects=False)
    assert set_cookies(again)["idgw_browser"].split(";")[0] not in (forged, issued)


def test_https_cookies_carry_the_host_prefix_and_unprefixed_ones_are_ignored(database_url):
    port = free_port()
    g = start_gateway(database_url, port=port, issuer=f"https://127.0.0.1:{port}")
    try:
        base = f"http://127.0.0.1:{port}"
        reg = register(g)
        url = authorize_url(g, rp_client(g, reg))[0].replace(g.url, base)
        answer = httpx.get(url, follow_redirects=False)
        cookies = set_cookies(answer)
        assert "__Host-idgw_browser" in cookies and "idgw_browser" not in cookies
        attrs = cookies["__Host-idgw_browser"].lower()
        assert "secure" in attrs and "path=/" in attrs and "domain" not in attrs
        browser_id = cookies["__Host-idgw_browser"].split(";")[0]
        # the same value sent without the prefix does not count: a new one is issued
        plain = httpx.get(url, headers={"cookie": f"idgw_browser={browser_id}"}, follow_redirects=False)
        assert set_cookies(plain)["__Host-idgw_browser"].split(";")[0] != browser_id
        # with the prefix it is this browser's id: no new cookie
        prefixed = httpx.get(url, headers={"cookie": f"__Host-idgw_browser={browser_id}"}, follow_redirects=False)
        assert set_cookies(prefixed)["__Host-idgw_browser"].split(";")[0] == browser_id
    finally:
        g.stop()
        g.gw.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_logout_takes_only_an_id_token_as_hint(gateway):
    reg = register(gateway)
    params, _s, _n, verifier, rp, browser = login_flow(gateway, reg)
    tokens = exchange(gateway, rp, params["code"], verifier)
    for hint in (tokens["access_token"], tokens["access_token"][:-4] + "AAAA", "not-a-jwt"):
        answer = browser.get("/logout?" + str(httpx.QueryParams({"id_token_hint": hint,
                                                                 "post_logout_redirect_uri": POST_LOGOUT})))
        assert answer.status_code == 400, hint[:20]
    # the session is still there, and a real ID token signs it out without asking
    done = browser.get("/logout?" + str(httpx.QueryParams({"id_token_hint": tokens["id_token"],
                                                           "post_logout_redirect_uri": POST_LOGOUT})))
    assert done.status_code == 302 and done.headers["location"].startswith(POST_LOGOUT)
