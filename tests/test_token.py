"""The token endpoint: code redemption rules and client authentication."""

import base64
import hashlib
import json
import threading
import time
import uuid

import httpx
import pytest
from jose import jwt as jose_jwt
from joserfc import jwt as jrfc_jwt
from joserfc.jwk import ECKey

from tests.flow import REDIRECT_URI, login_flow, register


def post_token(gateway, reg, data, auth=True):
    return httpx.post(gateway.url + "/token", data=data,
                      auth=(reg.client_id, reg.client_secret) if auth and reg.client_secret else None)


def code_data(code, verifier, **over):
    d = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    d.update(over)
    return {k: v for k, v in d.items() if v is not None}


def test_id_token_verifies_with_an_independent_library_and_carries_the_claims(gateway):
    reg = register(gateway)
    params, _, nonce, verifier, rp, _ = login_flow(gateway, reg)
    r = post_token(gateway, reg, code_data(params["code"], verifier))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    tok = r.json()
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    header = jose_jwt.get_unverified_header(tok["id_token"])
    assert header["alg"] == "ES256" and header["kid"] in {k["kid"] for k in jwks["keys"]}
    claims = jose_jwt.decode(tok["id_token"], jwks, algorithms=["ES256"], audience=reg.client_id,
                             issuer=gateway.url, access_token=tok["access_token"])
    for name in ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr", "amr", "sid"):
        assert name in claims, name
    assert claims["nonce"] == nonce and claims["amr"] == ["pwd"] and claims["acr"] == "urn:idgw:ial:1.1:aal:1"
    assert claims["sub"] != reg.account_id, "sub must be pairwise, not the internal account id"
    # RFC 9068 access token
    at_header = jose_jwt.get_unverified_header(tok["access_token"])
    assert at_header["typ"] == "at+jwt" and at_header["kid"]
    at = jose_jwt.decode(tok["access_token"], jwks, algorithms=["ES256"], audience=reg.client_id, issuer=gateway.url)
    assert at["client_id"] == reg.client_id and at["sub"] == claims["sub"] and at["jti"]
    assert tok["token_type"] == "Bearer" and tok["refresh_token"]
    # Stored as hashes only
    with gateway.db() as db:
        from sqlalchemy import text
        dump = json.dumps([list(map(str, row)) for t in ("tokens", "authorization_codes")
                           for row in db.execute(text(f"select * from {t}"))])
    assert tok["access_token"] not in dump and tok["refresh_token"] not in dump and params["code"] not in dump


def test_pairwise_sub_differs_per_sector_and_is_stable(gateway):
    # OIDC Core §8.1: keyed by the redirect URIs' host (tests/security/test_pairwise.py has the rest)
    a = register(gateway)
    b = register(gateway, username=None, redirect_uris=["https://rp.other-agency.test/cb"])
    from idgw.storage.models import Client
    with gateway.db() as db:
        ca, cb = db.get(Client, a.client_id), db.get(Client, b.client_id)
        p = gateway.gw.provider
        assert p.subject_for(client=ca, account_id=a.account_id) == p.subject_for(client=ca, account_id=a.account_id)
        assert p.subject_for(client=ca, account_id=a.account_id) != p.subject_for(client=cb, account_id=a.account_id)


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_algorithms_selectable_per_client(gateway, alg):
    reg = register(gateway, id_token_alg=alg)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    tok = post_token(gateway, reg, code_data(params["code"], verifier)).json()
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    header = jose_jwt.get_unverified_header(tok["id_token"])
    assert header["alg"] == alg
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert key["kty"] == "RSA"
    if alg == "RS256":
        jose_jwt.decode(tok["id_token"], key, algorithms=[alg], audience=reg.client_id,
                        access_token=tok["access_token"])
    else:  # python-jose has no PS256: verify with the cryptography package directly (RFC 7518 §3.5)
        verify_ps256(tok["id_token"], key)


def _b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_ps256(token, jwk):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    signing_input, _, sig = token.rpartition(".")
    pub = rsa.RSAPublicNumbers(int.from_bytes(_b64d(jwk["e"]), "big"),
                               int.from_bytes(_b64d(jwk["n"]), "big")).public_key()
    pub.verify(_b64d(sig), signing_input.encode(),
               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())


def test_wrong_missing_or_malformed_code_verifier(gateway):
    reg = register(gateway)
    for verifier, error in (("x" * 43, "invalid_grant"), (None, "invalid_request"), ("short", "invalid_request")):
        params, _, _, _, _, _ = login_flow(gateway, reg)
        r = post_token(gateway, reg, code_data(params["code"], verifier))
        assert r.status_code == 400 and r.json()["error"] == error, (verifier, r.text)


def test_wrong_redirect_uri_at_token_endpoint(gateway):
    reg = register(gateway)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = post_token(gateway, reg, code_data(params["code"], verifier, redirect_uri=REDIRECT_URI + "x"))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_replayed_code_is_refused_and_revokes_tokens_issued_from_it(gateway):
    reg = register(gateway)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    first = post_token(gateway, reg, code_data(params["code"], verifier))
    assert first.status_code == 200
    tok = first.json()
    bearer = {"Authorization": f"Bearer {tok['access_token']}"}
    assert httpx.get(gateway.url + "/userinfo", headers=bearer).status_code == 200
    replay = post_token(gateway, reg, code_data(params["code"], verifier))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert httpx.get(gateway.url + "/userinfo",
                     headers={"Authorization": f"Bearer {tok['access_token']}"}).status_code == 401
    intro = httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret),
                       data={"token": tok["refresh_token"]}).json()
    assert intro == {"active": False}
    assert audit_names(gateway).count("code.replayed") == 1


def test_expired_code_is_refused(gateway):
    reg = register(gateway)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    gateway.clock.advance(61)
    r = post_token(gateway, reg, code_data(params["code"], verifier))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_client(gateway):
    reg = register(gateway)
    other = register(gateway)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = post_token(gateway, other, code_data(params["code"], verifier))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # ...and the rightful client can still redeem it
    assert post_token(gateway, reg, code_data(params["code"], verifier)).status_code == 200


def test_concurrent_double_redemption_yields_exactly_one_token_response(gateway):
    reg = register(gateway)
    for _ in range(3):
        params, _, _, verifier, _, _ = login_flow(gateway, reg)
        barrier = threading.Barrier(2)
        results = []

        def redeem(params=params, verifier=verifier, barrier=barrier, results=results):
            barrier.wait()
            results.append(post_token(gateway, reg, code_data(params["code"], verifier)).status_code)

        threads = [threading.Thread(target=redeem) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 400], results


def test_wrong_client_secret_and_unknown_client(gateway):
    reg = register(gateway)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = httpx.post(gateway.url + "/token", data=code_data(params["code"], verifier), auth=(reg.client_id, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(gateway.url + "/token", data=code_data(params["code"], verifier), auth=("nobody", "x"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # a confidential client may not pretend to be public
    r = httpx.post(gateway.url + "/token", data=code_data(params["code"], verifier, client_id=reg.client_id))
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


def test_client_secret_post(gateway):
    reg = register(gateway, auth_method="client_secret_post")
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = httpx.post(gateway.url + "/token", data=code_data(params["code"], verifier, client_id=reg.client_id,
                                                          client_secret=reg.client_secret))
    assert r.status_code == 200, r.text
    # the registered method is the only one accepted
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = post_token(gateway, reg, code_data(params["code"], verifier))
    assert r.status_code == 401


def test_public_client_with_pkce_and_no_secret(gateway):
    reg = register(gateway, auth_method="none")
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = httpx.post(gateway.url + "/token", data=code_data(params["code"], verifier, client_id=reg.client_id))
    assert r.status_code == 200, r.text


def _assertion(key, client_id, aud, jti=None, exp_in=60):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "jti": jti or str(uuid.uuid4()),
              "iat": now, "exp": now + exp_in}
    return jrfc_jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def test_private_key_jwt(gateway):
    key = ECKey.generate_key("P-256", private=True)
    key.ensure_kid()
    jwks = {"keys": [key.as_dict(private=False)]}
    reg = register(gateway, auth_method="private_key_jwt", jwks=jwks)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    assertion = _assertion(key, reg.client_id, gateway.url + "/token")
    extra = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
             "client_assertion": assertion}
    r = httpx.post(gateway.url + "/token", data={**code_data(params["code"], verifier), **extra})
    assert r.status_code == 200, r.text
    # the same assertion twice is a replay (RFC 7523 §3 jti)
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    r = httpx.post(gateway.url + "/token", data={**code_data(params["code"], verifier), **extra})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"
    # signed by a key the client did not register
    stranger = ECKey.generate_key("P-256", private=True)
    stranger.ensure_kid()
    bad = {**extra, "client_assertion": _assertion(stranger, reg.client_id, gateway.url + "/token")}
    r = httpx.post(gateway.url + "/token", data={**code_data(params["code"], verifier), **bad})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"
    # wrong audience
    bad = {**extra, "client_assertion": _assertion(key, reg.client_id, "https://elsewhere.example/token")}
    r = httpx.post(gateway.url + "/token", data={**code_data(params["code"], verifier), **bad})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


def test_oversized_and_malformed_token_requests(gateway):
    reg = register(gateway)
    r = httpx.post(gateway.url + "/token", content=b"{not json", headers={"content-type": "application/json"},
                   auth=(reg.client_id, reg.client_secret))
    assert r.status_code == 400 and r.json()["error"] in ("invalid_request", "unsupported_grant_type")
    r = httpx.post(gateway.url + "/token", data={"grant_type": "authorization_code", "code": "x" * 5000,
                                                 "redirect_uri": REDIRECT_URI, "code_verifier": "y" * 50},
                   auth=(reg.client_id, reg.client_secret))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def audit_names(gateway):
    from sqlalchemy import select

    from idgw.storage.models import AuditEvent
    with gateway.db() as db:
        return [e.name for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_back_channel_endpoints_refuse_bad_requests_with_json(gateway):
    reg = register(gateway)
    auth = (reg.client_id, reg.client_secret)
    for path in ("/token", "/introspect", "/revoke"):
        r = httpx.get(gateway.url + path)
        assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["error"] == "invalid_request"
        # oversized: refused from Content-Length, before the body is read
        r = httpx.post(gateway.url + path, content=b"a=" + b"x" * 70_000, auth=auth,
                       headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and r.json()["error"] == "invalid_request", r.text
        assert r.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in r.headers["content-security-policy"]
    # ...and when sent chunked, with no Content-Length
    r = httpx.post(gateway.url + "/token", content=iter([b"grant_type=x&a=", b"y" * 40_000, b"z" * 40_000]),
                   auth=auth, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    bad = {
        b"grant_type=refresh_token&refresh_token=\xff\xfe": "UTF-8",
        b"&".join(b"f%d=1" % i for i in range(100)): "parameters",
        b"grant_type=refresh_token&grant_type=authorization_code": "repeated",
    }
    for body, words in bad.items():
        r = httpx.post(gateway.url + "/token", content=body, auth=auth,
                       headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request" and words in r.json()[
            "error_description"], r.text
    r = httpx.post(gateway.url + "/token?grant_type=authorization_code", auth=auth,
                   data={"grant_type": "authorization_code"})
    assert r.status_code == 400
    # a wrong client secret still says who must authenticate (RFC 6749 §5.2)
    r = httpx.post(gateway.url + "/token", auth=(reg.client_id, "wrong"), data={"grant_type": "refresh_token",
                                                                                 "refresh_token": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client" and "www-authenticate" in r.headers
