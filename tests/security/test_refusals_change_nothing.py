"""A refused token request changes nothing (security review item 6): a refresh refused with
``invalid_scope`` rotated the refresh token, so the client's plain retry counted as reuse and
revoked the grant. The same class of bug in code redemption: a wrong ``code_verifier`` or
``redirect_uri`` used the code up, so anyone holding a stolen code could burn it."""

from __future__ import annotations

import httpx

from tests.flow import REDIRECT_URI, exchange, login_flow, register


def token_request(gateway, reg, **form) -> httpx.Response:
    return httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret), data=form)


def test_a_refresh_refused_for_its_scope_leaves_the_token_usable(gateway):
    reg = register(gateway)
    params, _s, _n, verifier, rp, _b = login_flow(gateway, reg)
    tokens = exchange(gateway, rp, params["code"], verifier)
    refused = token_request(gateway, reg, grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                            scope="openid citizen_id")  # never granted
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    retry = token_request(gateway, reg, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert retry.status_code == 200, retry.text
    # a narrower scope is fine, and rotation still detects reuse of the old token
    narrower = token_request(gateway, reg, grant_type="refresh_token", refresh_token=retry.json()["refresh_token"],
                             scope="openid")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "openid"
    reused = token_request(gateway, reg, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reused.json()["error"] == "invalid_grant"
    newest = token_request(gateway, reg, grant_type="refresh_token",
                           refresh_token=narrower.json().get("refresh_token", "x"))
    assert newest.json()["error"] == "invalid_grant"  # the family was revoked on reuse


def test_a_code_refused_for_its_verifier_or_redirect_uri_can_still_be_redeemed(gateway):
    reg = register(gateway)
    params, _s, _n, verifier, _rp, _b = login_flow(gateway, reg)
    code = params["code"]
    for bad in ({"code_verifier": "x" * 43, "redirect_uri": REDIRECT_URI},
                {"code_verifier": verifier, "redirect_uri": REDIRECT_URI + "/other"},
                {"redirect_uri": REDIRECT_URI}):
        refused = token_request(gateway, reg, grant_type="authorization_code", code=code, **bad)
        assert refused.status_code == 400 and refused.json()["error"] in ("invalid_grant", "invalid_request"), bad
    good = token_request(gateway, reg, grant_type="authorization_code", code=code, code_verifier=verifier,
                         redirect_uri=REDIRECT_URI)
    assert good.status_code == 200, good.text
    # and the code is single use: a replay is refused and revokes what it issued
    replay = token_request(gateway, reg, grant_type="authorization_code", code=code, code_verifier=verifier,
                           redirect_uri=REDIRECT_URI)
    assert replay.json()["error"] == "invalid_grant"
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {good.json()['access_token']}"})
    assert info.status_code == 401
