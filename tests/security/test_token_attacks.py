"""Attacks that held (security review): racing a code or a refresh token, client assertions, and
forged or tampered tokens, over real HTTP.

How the gateway recognises its tokens: /userinfo needs the signature to verify (ES256/RS256/PS256
with a published key, ``typ: at+jwt``) and the token to be the very string that was issued (its
hash is stored); /introspect and /revoke look tokens up by hash only. A forged access token is
therefore refused while either defence holds. The signature check alone answers at /logout, whose
``id_token_hint`` is verified and not looked up: forged ID tokens are probed there as well, so a
broken signature check fails here even while the hash binding holds.

Already held elsewhere and not repeated here: a replayed code revoking what it issued, two
concurrent redemptions (tests/test_token.py); refresh rotation and reuse revoking the family,
another client's refresh token refused and left alone (tests/test_tokens_use.py); a payload edited
under the old signature, alg none, an HS256 header over the ES256 signature, an ID token as the
access token, an expired access token (status only), revocation by /revoke (tests/test_tokens_use.py);
client assertions: replayed jti, unregistered key, one other audience, alg none, HS256 with an oct
key, lifetime, malformed, one client per request (tests/test_token.py,
tests/security/test_client_auth.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.flow import POST_LOGOUT, exchange, login_flow, register
from tests.security.clientauth import assertion, assertion_form, code_form, new_code, post, register_jwt_client
from tests.security.probes import assert_bearer_refused, in_parallel, introspect, statuses
from tests.test_token import audit_names
from tests.test_tokens_use import issue, refresh

PARALLEL = 8
ROUNDS = 3


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def parts(token: str) -> tuple[dict, dict]:
    head, payload, _sig = token.split(".")
    unb = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
    return json.loads(unb(head)), json.loads(unb(payload))


def hs256(secret: bytes, header: dict, claims: dict) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def public_key_secrets(jwk: dict) -> dict[str, bytes]:
    """The ways a published public key can be fed to HMAC by a confused verifier."""
    key = ECKey.import_key(jwk) if jwk["kty"] == "EC" else RSAKey.import_key(jwk)
    pem = key.as_pem(private=False)
    return {"PEM": pem, "PEM without newline": pem.rstrip(b"\n"), "JWK JSON": json.dumps(jwk).encode(),
            "compact JWK JSON": json.dumps(jwk, separators=(",", ":")).encode()}


# -- races --------------------------------------------------------------------------------------------

def test_parallel_redemptions_of_one_code_give_one_token_response_and_revoke_it(gateway):
    """Defence: the code is claimed by one conditional UPDATE (AuthorizationCodeGrant.authenticate_user);
    every other redemption is a replay and revokes what the winner got (RFC 6749 §4.1.2). On both
    databases; tests/test_token.py races two requests and checks statuses only."""
    reg = register(gateway)
    params, _s, _n, verifier, _rp, _b = login_flow(gateway, reg)
    form = code_form(params["code"], verifier)
    results = in_parallel(PARALLEL, lambda http: http.post(gateway.url + "/token", data=form,
                                                           auth=(reg.client_id, reg.client_secret)))
    assert statuses(results) == [200] + [400] * (PARALLEL - 1), statuses(results)
    winner = next(r for r in results if r.status_code == 200).json()
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)
    names = audit_names(gateway)
    assert names.count("code.redeemed") == 1 and names.count("code.replayed") == PARALLEL - 1, names
    # the replays revoked the winner's tokens
    assert_bearer_refused(gateway, winner["access_token"], "access token of a raced code")
    assert introspect(gateway, reg, winner["access_token"]) == {"active": False}
    assert introspect(gateway, reg, winner["refresh_token"]) == {"active": False}
    assert refresh(gateway, reg, winner["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.fixture
def no_grace_gateway(database_url):
    from tests.conftest import start_gateway

    running = start_gateway(database_url, refresh_grace=0)
    yield running
    running.stop()
    running.gw.engine.dispose()


def test_parallel_use_of_one_refresh_token_gives_one_success_and_is_reuse(no_grace_gateway):
    """Defence: rotation by one conditional UPDATE (RefreshTokenGrant._rotate); losing the race is
    reuse, which revokes the family, the winner's new tokens included (RFC 9700 §4.14.2: one of
    the presenters is not the legitimate client). A few rounds, since a race may go either way.
    Without the grace for a lost response, which would let a presenter that comes after the
    winner's commit replace the winner's pair instead (tests/test_refresh_grace.py)."""
    gateway = no_grace_gateway
    reg = register(gateway)
    browser = None
    for round_ in range(ROUNDS):
        params, _s, _n, verifier, rp, browser = login_flow(gateway, reg, browser=browser)
        tok = exchange(gateway, rp, params["code"], verifier)
        form = {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}
        results = in_parallel(PARALLEL, lambda http, form=form: http.post(
            gateway.url + "/token", data=form, auth=(reg.client_id, reg.client_secret)))
        assert statuses(results) == [200] + [400] * (PARALLEL - 1), (round_, statuses(results))
        assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)
        new = next(r for r in results if r.status_code == 200).json()
        for token in (tok["access_token"], new["access_token"], new["refresh_token"]):
            assert introspect(gateway, reg, token) == {"active": False}, round_
        assert_bearer_refused(gateway, new["access_token"], "access token from a raced refresh")
        assert refresh(gateway, reg, new["refresh_token"]).json()["error"] == "invalid_grant"
    assert audit_names(gateway).count("token.refreshed") == ROUNDS


def test_another_client_cannot_revoke_or_introspect_a_refresh_token(gateway):
    """Defence: revocation and introspection only for the client the token was issued to (RFC 7009
    §2.1, RFC 7662 §4); tests/test_tokens_use.py holds the same at the token endpoint."""
    reg, tok = issue(gateway)
    other = register(gateway)
    r = httpx.post(gateway.url + "/revoke", auth=(other.client_id, other.client_secret),
                   data={"token": tok["refresh_token"], "token_type_hint": "refresh_token"}, timeout=20)
    assert r.status_code == 200  # RFC 7009 §2.2: the same answer, nothing done
    assert introspect(gateway, other, tok["refresh_token"]) == {"active": False}
    assert introspect(gateway, reg, tok["refresh_token"])["active"] is True
    assert refresh(gateway, reg, tok["refresh_token"]).status_code == 200


# -- client assertions (what tests/security/test_client_auth.py does not already hold) -----------------

@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # decided in Python: SQLite only, quicker
def test_assertions_for_another_audience_are_refused(gateway):
    """Defence: aud must name this token endpoint or the issuer, exactly (RFC 7523 §3 item 3), so an
    assertion made for another server or another endpoint cannot be replayed here."""
    reg, key = register_jwt_client(gateway)
    code, verifier = new_code(gateway, reg)
    token_url = gateway.url + "/token"
    for aud in (gateway.url + "/introspect", gateway.url + "/revoke", gateway.url + "/userinfo",
                token_url + "/", token_url + "?x=1", token_url.upper(), gateway.url + "/",
                token_url.replace("http://", "https://"), "https://other-idp.example/token",
                ["https://other-idp.example/token"], [], reg.client_id, ""):
        r = post(gateway, "/token", {**code_form(code, verifier),
                                     **assertion_form(assertion(key, alg="ES256", client_id=reg.client_id, aud=aud))})
        assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client", (aud, r.status_code, r.text)
    ok = assertion(key, alg="ES256", client_id=reg.client_id, aud=token_url)
    assert post(gateway, "/token", {**code_form(code, verifier), **assertion_form(ok)}).status_code == 200


def test_a_jti_is_remembered_per_client(gateway):
    """Defence: the used-jti record is keyed by issuer and jti (PrivateKeyJWT.validate_jti): a jti
    seen from one client neither lets that client replay it after another used it, nor lets one
    client burn another's jti."""
    a, key_a = register_jwt_client(gateway)
    b, key_b = register_jwt_client(gateway)
    jti = str(uuid.uuid4())
    aud = gateway.url + "/token"
    sent = {}
    for reg, key in ((a, key_a), (b, key_b)):
        sent[reg.client_id] = assertion(key, alg="ES256", client_id=reg.client_id, aud=aud, jti=jti)
        code, verifier = new_code(gateway, reg)
        r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(sent[reg.client_id])})
        assert r.status_code == 200, r.text
    for reg in (a, b):
        code, verifier = new_code(gateway, reg)
        r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(sent[reg.client_id])})
        assert r.json()["error"] == "invalid_client", r.text
        fresh = assertion(key_a if reg is a else key_b, alg="ES256", client_id=reg.client_id, aud=aud,
                          jti=jti + "-again")
        assert post(gateway, "/token", {**code_form(code, verifier), **assertion_form(fresh)}).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # decided in Python: SQLite only, quicker
def test_forged_assertions_are_refused(gateway):
    """Defence: assertions verify only with the client's registered public keys and asymmetric
    algorithms (CLIENT_ASSERTION_ALGS): not HMAC keyed with a public key (the client's registered
    one or the gateway's published one), not a key the assertion carries or points at, not another
    client's key; and an expired assertion is refused."""
    a, key_a = register_jwt_client(gateway)
    b, _key_b = register_jwt_client(gateway)
    aud = gateway.url + "/token"
    code, verifier = new_code(gateway, a)
    now = int(time.time())
    claims = {"iss": a.client_id, "sub": a.client_id, "aud": aud, "iat": now, "exp": now + 60}
    forged = {}
    gateway_keys = httpx.get(gateway.url + "/jwks.json").json()["keys"]
    for label, jwk in [("the client's registered key", key_a.as_dict(private=False)),
                       *((f"the gateway's {k['kty']} key", k) for k in gateway_keys)]:
        for form, secret in public_key_secrets(jwk).items():
            forged[f"HS256 keyed with {label} as {form}"] = hs256(
                secret, {"alg": "HS256", "kid": jwk["kid"]}, {**claims, "jti": str(uuid.uuid4())})
    attacker = ECKey.generate_key("P-256", private=True)
    attacker.ensure_kid()
    forged["signed by another key under the client's kid"] = jwt.encode(
        {"alg": "ES256", "kid": key_a.kid}, {**claims, "jti": str(uuid.uuid4())}, attacker)
    forged["carrying its own jwk"] = jwt.encode(
        {"alg": "ES256", "jwk": attacker.as_dict(private=False)}, {**claims, "jti": str(uuid.uuid4())}, attacker)
    forged["pointing at a jku"] = jwt.encode(
        {"alg": "ES256", "kid": attacker.kid, "jku": "https://evil.test/jwks.json"},
        {**claims, "jti": str(uuid.uuid4())}, attacker)
    forged["signed by client A for client B"] = assertion(key_a, alg="ES256", client_id=b.client_id, aud=aud)
    forged["iss A, sub B"] = assertion(key_a, alg="ES256", client_id=a.client_id, aud=aud, sub=b.client_id)
    forged["expired"] = assertion(key_a, alg="ES256", client_id=a.client_id, aud=aud, now=now - 600, lifetime=60)
    for name, token in forged.items():
        for form in ({**code_form(code, verifier), **assertion_form(token)},
                     {**code_form(code, verifier), **assertion_form(token), "client_id": a.client_id}):
            r = post(gateway, "/token", form)
            assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client", (name, r.status_code, r.text)
    ok = assertion(key_a, alg="ES256", client_id=a.client_id, aud=aud)
    assert post(gateway, "/token", {**code_form(code, verifier), **assertion_form(ok)}).status_code == 200


# -- forged and tampered tokens ------------------------------------------------------------------------

def forgeries(gateway, token: str) -> dict[str, str]:
    """Tokens an attacker can make from one of ours and the published JWKS."""
    header, claims = parts(token)
    head, payload, sig = token.split(".")
    jwks = {k["kid"]: k for k in httpx.get(gateway.url + "/jwks.json").json()["keys"]}
    ours = jwks[header["kid"]]
    out = {f"HS256 keyed with the gateway's public key as {form}": hs256(secret, {**header, "alg": "HS256"}, claims)
           for form, secret in public_key_secrets(ours).items()}
    attacker = ECKey.generate_key("P-256", private=True)
    attacker.ensure_kid()
    out["signed by another key under the gateway's kid"] = jwt.encode(header, claims, attacker)
    out["signed by another key, no kid"] = jwt.encode({k: v for k, v in header.items() if k != "kid"}, claims,
                                                      attacker)
    out["signed by another key it carries as jwk"] = jwt.encode(
        {**{k: v for k, v in header.items() if k != "kid"}, "jwk": attacker.as_dict(private=False)}, claims,
        attacker)
    out["signed by another key under an unknown kid"] = jwt.encode({**header, "kid": attacker.kid}, claims, attacker)
    out["alg none, signature kept"] = f"{b64json({**header, 'alg': 'none'})}.{payload}.{sig}"
    out["typ removed"] = f"{b64json({k: v for k, v in header.items() if k != 'typ'})}.{payload}.{sig}"
    out["typ changed"] = f"{b64json({**header, 'typ': 'at+jwt' if header.get('typ') == 'JWT' else 'JWT'})}" \
                         f".{payload}.{sig}"
    flipped = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    flipped[len(flipped) // 2] ^= 0x01
    out["one payload byte changed"] = f"{head}.{b64(bytes(flipped))}.{sig}"
    out["exp pushed out"] = f"{head}.{b64json({**claims, 'exp': claims['exp'] + 86400})}.{sig}"
    out["no signature"] = f"{head}.{payload}."
    out["two signatures"] = f"{token}.{sig}"
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # decided in Python: SQLite only, quicker
def test_forged_access_tokens_are_refused_at_userinfo_and_introspection(gateway):
    """Defence: signature over an allow-list of asymmetric algs with the gateway's own keys, typ
    at+jwt (RFC 9068 §4), and the hash of the issued string (userinfo); lookup by hash
    (introspection)."""
    reg, tok = issue(gateway)
    probes = forgeries(gateway, tok["access_token"])
    probes["the ID token"] = tok["id_token"]
    for name, token in probes.items():
        assert_bearer_refused(gateway, token, name)
        assert introspect(gateway, reg, token) == {"active": False}, name
    # the refresh token is a credential for /token only (introspection rightly knows it)
    assert_bearer_refused(gateway, tok["refresh_token"], "the refresh token")
    # POST form (RFC 6750 §2.2) and query (§2.3) carry nothing either
    r = httpx.post(gateway.url + "/userinfo", data={"access_token": tok["access_token"]}, timeout=20)
    assert r.status_code == 401
    r = httpx.get(gateway.url + "/userinfo", params={"access_token": tok["access_token"]}, timeout=20)
    assert r.status_code == 401
    r = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"}, timeout=20)
    assert r.status_code == 200, r.text  # the real one still works


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # decided in Python: SQLite only, quicker
def test_forged_id_tokens_fail_the_signature_check_alone(gateway):
    """Defence: the signature check by itself (Provider.verify_own_jwt), seen through /logout, where
    a hint that verifies is followed to the registered post_logout_redirect_uri."""
    reg = register(gateway)
    params, _s, _n, verifier, rp, _b = login_flow(gateway, reg)
    tok = exchange(gateway, rp, params["code"], verifier)

    def hinted(hint: str) -> httpx.Response:
        return httpx.get(gateway.url + "/logout", params={"id_token_hint": hint, "post_logout_redirect_uri":
                                                          POST_LOGOUT, "state": "s"}, timeout=20)

    for name, token in forgeries(gateway, tok["id_token"]).items():
        r = hinted(token)
        assert r.status_code == 400 and "location" not in r.headers, (name, r.status_code, r.headers.get("location"))
        assert_bearer_refused(gateway, token, name)
    r = hinted(tok["id_token"])  # the real hint is followed
    assert r.status_code == 302 and r.headers["location"].startswith(POST_LOGOUT), r.text[:300]


def test_expired_and_revoked_tokens_get_the_bearer_challenge(gateway):
    """Defence: exp and revocation checked on every use (RFC 6750 §3.1 answer); revoking the refresh
    token ends its grant's access tokens (RFC 7009 §2.1). tests/test_tokens_use.py checks statuses."""
    reg, tok = issue(gateway)
    r = httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret),
                   data={"token": tok["access_token"]}, timeout=20)
    assert r.status_code == 200
    assert_bearer_refused(gateway, tok["access_token"], "revoked access token")
    assert introspect(gateway, reg, tok["access_token"]) == {"active": False}
    new = refresh(gateway, reg, tok["refresh_token"]).json()
    r = httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret),
                   data={"token": new["refresh_token"], "token_type_hint": "refresh_token"}, timeout=20)
    assert r.status_code == 200
    assert_bearer_refused(gateway, new["access_token"], "access token of a revoked refresh token")
    assert introspect(gateway, reg, new["refresh_token"]) == {"active": False}
    _reg, live = issue(gateway, reg)
    gateway.clock.advance(gateway.gw.settings.access_token_ttl + 1)
    assert_bearer_refused(gateway, live["access_token"], "expired access token")
    assert introspect(gateway, reg, live["access_token"]) == {"active": False}
