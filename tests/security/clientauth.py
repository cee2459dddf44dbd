"""Helpers for the security suite: client keys and RFC 7523 client assertions made the way an
e-service would make them (joserfc on the client side), and raw back-channel requests."""

from __future__ import annotations

import time
import uuid

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.flow import REDIRECT_URI, login_flow, register

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The key an e-service generates for each JWS algorithm (RFC 7518 §3.1).
KEY_FOR_ALG = {"ES256": ("EC", "P-256"), "RS256": ("RSA", 2048), "PS256": ("RSA", 2048)}


def client_key(alg: str = "ES256"):
    """A fresh private key for ``alg``, with a kid."""
    kty, size = KEY_FOR_ALG[alg]
    key = ECKey.generate_key(size, private=True) if kty == "EC" else RSAKey.generate_key(size, private=True)
    key.ensure_kid()
    return key


def public_jwks(*keys, **members) -> dict:
    """The JWKS an e-service registers: public members only, plus any extra members per key."""
    return {"keys": [{**k.as_dict(private=False), **members} for k in keys]}


def assertion(key, *, alg: str, client_id: str, aud: str, now: int | None = None, lifetime: int = 60,
              header: dict | None = None, **claims) -> str:
    """An RFC 7523 §3 client assertion; a claim given as None is left out."""
    now = int(time.time()) if now is None else now
    body = {"iss": client_id, "sub": client_id, "aud": aud, "jti": str(uuid.uuid4()), "iat": now,
            "exp": now + lifetime}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid, **(header or {})}, body, key, algorithms=[alg])


def assertion_form(token: str) -> dict:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": token}


def code_form(code: str, verifier: str) -> dict:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}


def new_code(gateway, reg) -> tuple[str, str]:
    """(code, verifier) from a whole front-channel flow."""
    params, _, _, verifier, _, _ = login_flow(gateway, reg)
    return params["code"], verifier


def register_jwt_client(gateway, alg: str = "ES256"):
    """A private_key_jwt client with one key for ``alg``: (registration, private key)."""
    key = client_key(alg)
    reg = register(gateway, auth_method="private_key_jwt", jwks=public_jwks(key, alg=alg))
    return reg, key


def post(gateway, path: str, data: dict, **kw) -> httpx.Response:
    return httpx.post(gateway.url + path, data=data, timeout=20, **kw)


def assert_invalid_client(r: httpx.Response, *, basic: bool = False) -> None:
    """A JSON invalid_client answer; with 401 and a Basic challenge when the request carried an
    Authorization header (RFC 6749 §5.2)."""
    assert r.headers.get("content-type", "").startswith("application/json"), (r.status_code, r.text[:300])
    assert r.json()["error"] == "invalid_client", r.text
    if basic:
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Basic"), r.headers
    else:
        assert r.status_code in (400, 401), r.text
