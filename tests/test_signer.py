"""The direct JWS signer (idgw.oidc.keys.Signer) against independent verifiers: python-jose for
ES256/RS256, the `cryptography` package for PS256 (python-jose has none)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from jose import jwt as jose_jwt
from joserfc.jwk import ECKey, RSAKey

from idgw.oidc.keys import Signer, UnsupportedAlgorithmError

CLAIMS = {"iss": "https://idgw.example", "sub": "abc", "aud": "rp", "given_name": "สมชาย", "n": 1}


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def ec_key():
    return ECKey.generate_key("P-256", private=True)


@pytest.fixture(scope="module")
def rsa_key():
    return RSAKey.generate_key(2048, private=True)


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_python_jose_verifies(alg, ec_key, rsa_key):
    key = ec_key if alg == "ES256" else rsa_key
    token = Signer(alg, "kid-1", key).sign(CLAIMS, typ="at+jwt")
    public = key.as_dict(private=False)
    assert jose_jwt.decode(token, public, algorithms=[alg], audience="rp") == CLAIMS
    header = jose_jwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "at+jwt", "kid": "kid-1"}


def test_es256_signature_is_raw_r_s_not_der(ec_key):
    token = Signer("ES256", "k", ec_key).sign(CLAIMS)
    assert len(_b64d(token.split(".")[2])) == 64  # RFC 7518 §3.4


def test_ps256_verifies_with_cryptography(rsa_key):
    token = Signer("PS256", "k", rsa_key).sign(CLAIMS)
    head, payload, sig = token.split(".")
    rsa_key.public_key.verify(_b64d(sig), f"{head}.{payload}".encode(),
                              padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    assert json.loads(_b64d(payload)) == CLAIMS
    assert json.loads(_b64d(head))["alg"] == "PS256"


def test_tampered_payload_fails(ec_key):
    token = Signer("ES256", "k", ec_key).sign(CLAIMS)
    head, _, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**CLAIMS, "sub": "x"}).encode()).rstrip(b"=").decode()
    with pytest.raises(Exception):  # noqa: B017, PT011 - jose raises its own JWTError/JWSError
        jose_jwt.decode(f"{head}.{forged}.{sig}", ec_key.as_dict(private=False), algorithms=["ES256"],
                        audience="rp")


def test_unknown_alg_refused(ec_key):
    with pytest.raises(UnsupportedAlgorithmError):
        Signer("none", "k", ec_key)
    with pytest.raises(UnsupportedAlgorithmError):
        Signer("HS256", "k", ec_key)



def test_signed_claims_read_back_equal(ec_key):
    claims = {**CLAIMS, "tricky": ["สมชาย", "line\nbreak", "\u2028", "\x00"], "act": {"sub": "a", "act": {"sub": "b"}}}
    token = Signer("ES256", "k1", ec_key).sign(claims)
    assert json.loads(_b64d(token.split(".")[1])) == claims


def test_b64url_is_unpadded_urlsafe_base64_for_every_length():
    import base64
    import os

    from idgw.security import b64url

    for n in range(0, 70):
        data = os.urandom(n)
        assert b64url(data) == base64.urlsafe_b64encode(data).rstrip(b"=")
    assert b64url(b"\xfb\xff") == b"-_8"  # the two characters that differ from plain base64
