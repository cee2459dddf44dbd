"""Refresh rotation and reuse detection, userinfo, introspection and revocation."""

import base64
import json

import httpx

from tests.flow import exchange, login_flow, register
from tests.test_token import audit_names


def issue(gateway, reg=None, **kw):
    reg = reg or register(gateway, **kw)
    params, _, _, verifier, rp, _ = login_flow(gateway, reg)
    return reg, exchange(gateway, rp, params["code"], verifier)


def refresh(gateway, reg, refresh_token):
    return httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def introspect(gateway, reg, token, auth=None):
    return httpx.post(gateway.url + "/introspect", auth=auth or (reg.client_id, reg.client_secret),
                      data={"token": token})


def userinfo(gateway, token, method="GET"):
    if method == "GET":
        return httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {token}"})
    return httpx.post(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {token}"})


def test_refresh_rotates_and_reuse_revokes_the_family(gateway):
    reg, tok = issue(gateway)
    r1 = refresh(gateway, reg, tok["refresh_token"])
    assert r1.status_code == 200, r1.text
    new = r1.json()
    assert new["refresh_token"] != tok["refresh_token"] and new["access_token"] != tok["access_token"]
    assert "id_token" in new
    assert introspect(gateway, reg, new["access_token"]).json()["active"] is True
    # the old refresh token was rotated: presenting it again, past the grace for a lost response
    # (tests/test_refresh_grace.py), is reuse
    gateway.clock.advance(gateway.gw.settings.refresh_grace + 1)
    reuse = refresh(gateway, reg, tok["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # ...which revokes everything in the family, including the newest tokens
    assert introspect(gateway, reg, new["refresh_token"]).json() == {"active": False}
    assert introspect(gateway, reg, new["access_token"]).json() == {"active": False}
    assert refresh(gateway, reg, new["refresh_token"]).status_code == 400
    assert userinfo(gateway, new["access_token"]).status_code == 401
    names = audit_names(gateway)
    assert "token.refreshed" in names and "token.reused" in names


def test_refresh_token_bound_to_client(gateway):
    reg, tok = issue(gateway)
    other = register(gateway)
    r = refresh(gateway, other, tok["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # ...and left alone: another client can neither rotate nor revoke the owner's grant
    assert "token.reused" not in audit_names(gateway)
    assert introspect(gateway, reg, tok["access_token"]).json()["active"] is True
    assert refresh(gateway, reg, tok["refresh_token"]).status_code == 200


def test_expired_or_oversized_refresh_token_is_invalid_grant(gateway):
    reg, tok = issue(gateway)
    for bad in ("x" * 600, "not-a-token", ""):
        r = refresh(gateway, reg, bad)
        assert r.status_code == 400 and r.json()["error"] in ("invalid_grant", "invalid_request"), (bad, r.text)
    assert refresh(gateway, reg, tok["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, _ = login_flow(gateway, reg, scope="openid profile")
    tok = exchange(gateway, rp, params["code"], verifier)
    assert "refresh_token" not in tok


def test_userinfo_get_and_post_release_only_consented_scopes(gateway):
    reg = register(gateway, citizen_id="1345951597671")
    params, _, _, verifier, rp, _ = login_flow(gateway, reg, scope="openid profile")
    tok = exchange(gateway, rp, params["code"], verifier)
    for method in ("GET", "POST"):
        info = userinfo(gateway, tok["access_token"], method)
        assert info.status_code == 200 and info.headers["cache-control"] == "no-store"
        body = info.json()
        assert body["given_name"] == "Somsri" and body["th_given_name"] == "สมศรี"
        assert "email" not in body and "citizen_id" not in body
    params, _, _, verifier, rp, _ = login_flow(gateway, reg, scope="openid email citizen_id")
    tok = exchange(gateway, rp, params["code"], verifier)
    body = userinfo(gateway, tok["access_token"]).json()
    assert body["citizen_id"] == "1345951597671" and body["email"].endswith("@example.test")


def _b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_tampered_and_alg_none_tokens_are_refused(gateway):
    reg, tok = issue(gateway)
    header, payload, sig = tok["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = f"{header}.{_b64({**claims, 'scope': 'openid citizen_id'})}.{sig}"
    alg_none = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}."
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    hs256 = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{payload}.{sig}"
    id_token_as_access = tok["id_token"]
    ih, ip, isig = tok["id_token"].split(".")
    id_claims = json.loads(base64.urlsafe_b64decode(ip + "=" * (-len(ip) % 4)))
    tampered_id = f"{ih}.{_b64({**id_claims, 'sub': 'someone-else'})}.{isig}"
    alg_none_id = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{ip}."
    for bad in (tampered, alg_none, hs256, id_token_as_access, tampered_id, alg_none_id, "garbage",
                tok["access_token"][:-4] + "AAAA"):
        r = userinfo(gateway, bad)
        assert r.status_code == 401, bad
        assert r.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        assert introspect(gateway, reg, bad).json() == {"active": False}
    assert userinfo(gateway, tok["access_token"]).status_code == 200


def test_userinfo_without_token(gateway):
    r = httpx.get(gateway.url + "/userinfo")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


def test_expired_access_token(gateway):
    reg, tok = issue(gateway)
    gateway.clock.advance(gateway.gw.settings.access_token_ttl + 1)
    assert userinfo(gateway, tok["access_token"]).status_code == 401
    assert introspect(gateway, reg, tok["access_token"]).json() == {"active": False}


def test_introspection_details_and_permissions(gateway):
    reg, tok = issue(gateway)
    body = introspect(gateway, reg, tok["access_token"]).json()
    assert body["active"] is True and body["client_id"] == reg.client_id and body["token_type"] == "Bearer"
    assert body["iss"] == gateway.url and "exp" in body and body["sub"]
    # another client cannot learn about this token
    other = register(gateway)
    assert introspect(gateway, other, tok["access_token"]).json() == {"active": False}
    # a public client may not introspect at all; wrong secret neither
    public = register(gateway, auth_method="none")
    r = httpx.post(gateway.url + "/introspect", data={"token": tok["access_token"], "client_id": public.client_id})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"
    r = introspect(gateway, reg, tok["access_token"], auth=(reg.client_id, "wrong"))
    assert r.status_code == 401
    r = httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret), data={})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_revocation(gateway):
    reg, tok = issue(gateway)
    r = httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret),
                   data={"token": tok["access_token"], "token_type_hint": "access_token"})
    assert r.status_code == 200
    assert userinfo(gateway, tok["access_token"]).status_code == 401
    assert introspect(gateway, reg, tok["refresh_token"]).json()["active"] is True
    r = httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret),
                   data={"token": tok["refresh_token"]})
    assert r.status_code == 200
    assert refresh(gateway, reg, tok["refresh_token"]).status_code == 400
    # unknown tokens: still 200 (RFC 7009 §2.2); another client's token is not revoked
    assert httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret),
                      data={"token": "nonsense"}).status_code == 200
    reg2, tok2 = issue(gateway)
    httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret), data={"token": tok2["access_token"]})
    assert userinfo(gateway, tok2["access_token"]).status_code == 200
    assert "token.revoked" in audit_names(gateway)
