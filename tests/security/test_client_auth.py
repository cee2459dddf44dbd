"""Client authentication at /token, /introspect and /revoke (security review items 4, 10, 13, 17).

Regression tests for: PS256 client assertions refused although advertised; a body ``client_id``
(or a second client's assertion) contradicting the authenticated client being ignored; client
assertions valid for years; the used-``jti`` insert racing on PostgreSQL (500); malformed
``Authorization: Basic`` headers answered with 500; registration accepting keys the token
endpoint can never use; a jwks_uri with one unusable key failing the client."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from idgw.admin import AdminError, add_client
from tests.flow import REDIRECT_URI, register
from tests.security.clientauth import (
    assert_invalid_client,
    assertion,
    assertion_form,
    client_key,
    code_form,
    new_code,
    post,
    public_jwks,
    register_jwt_client,
)
from tests.test_keys_cli import run_cli

BACK_CHANNEL = ("/token", "/introspect", "/revoke")


def b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def issue_tokens(gateway, reg, *, auth=None, extra=None):
    code, verifier = new_code(gateway, reg)
    r = post(gateway, "/token", {**code_form(code, verifier), **(extra or {})}, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()


# -- item 4: every advertised assertion algorithm works, and only those ------------------------------

@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
def test_private_key_jwt_with_each_advertised_alg_at_every_back_channel_endpoint(gateway, alg):
    """Regression (PS256): refused as 'not recommended' by joserfc's default registry."""
    reg, key = register_jwt_client(gateway, alg)
    token_url = gateway.url + "/token"

    def form():
        return assertion_form(assertion(key, alg=alg, client_id=reg.client_id, aud=token_url))

    code, verifier = new_code(gateway, reg)
    r = post(gateway, "/token", {**code_form(code, verifier), **form()})
    assert r.status_code == 200, r.text
    tok = r.json()
    r = post(gateway, "/introspect", {"token": tok["access_token"], **form()})
    assert r.status_code == 200 and r.json()["active"] is True, r.text
    r = post(gateway, "/revoke", {"token": tok["refresh_token"], **form()})
    assert r.status_code == 200, r.text
    r = post(gateway, "/introspect", {"token": tok["refresh_token"], **form()})
    assert r.json() == {"active": False}


def test_assertion_alg_must_fit_the_clients_key(gateway):
    """The header's alg must be one the registered key can do: an RSA key registered for RS256
    does not verify PS256, an EC key nothing but ES256; alg=none never verifies."""
    reg, key = register_jwt_client(gateway, "RS256")  # registered with "alg": "RS256"
    aud = gateway.url + "/token"
    code, verifier = new_code(gateway, reg)
    for alg in ("PS256", "ES256", "RS384", "RS512"):
        try:
            token = assertion(key, alg=alg, client_id=reg.client_id, aud=aud)
        except Exception:  # noqa: BLE001 - joserfc will not even sign ES256 with an RSA key
            continue
        r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(token)})
        assert_invalid_client(r)
    unsigned = _unsigned(reg.client_id, aud)
    r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(unsigned)})
    assert_invalid_client(r)
    # ...and the code is still good for a properly signed assertion
    token = assertion(key, alg="RS256", client_id=reg.client_id, aud=aud)
    assert post(gateway, "/token", {**code_form(code, verifier), **assertion_form(token)}).status_code == 200


def _unsigned(client_id, aud):
    import time

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "jti": str(uuid.uuid4()), "iat": now, "exp": now + 60}
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'none'})}.{enc(claims)}."


def test_hs256_assertion_with_a_legacy_oct_key_is_refused(gateway):
    """Regression: a client whose stored JWKS holds an oct key (registered before registration
    checked keys) could authenticate with HS256, joserfc's default registry allowing it."""
    from idgw.storage.models import Client

    reg, _ = register_jwt_client(gateway)
    secret = OctKey.generate_key(256)
    secret.ensure_kid()
    with gateway.db() as db:
        db.get(Client, reg.client_id).jwks = {"keys": [secret.as_dict()]}
        db.commit()
    code, verifier = new_code(gateway, reg)
    token = assertion(secret, alg="HS256", client_id=reg.client_id, aud=gateway.url + "/token")
    r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(token)})
    assert_invalid_client(r)


def test_discovery_advertises_exactly_the_algs_the_token_endpoint_verifies():
    from idgw.oidc.client_auth import CLIENT_ASSERTION_ALGS
    from idgw.oidc.routes import discovery_document

    meta = discovery_document("https://idgw.example")
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == list(CLIENT_ASSERTION_ALGS)
    assert not {"none", "HS256", "HS384", "HS512"} & set(CLIENT_ASSERTION_ALGS)


# -- item 13: assertion lifetime -------------------------------------------------------------------------

def test_assertion_lifetime_is_capped(gateway):
    """Regression: an assertion with exp a year ahead (or issued long ago with a near exp) was
    accepted, and its used-jti row kept for that long."""
    from idgw.oidc.client_auth import MAX_ASSERTION_LIFETIME

    reg, key = register_jwt_client(gateway)
    aud = gateway.url + "/token"
    now = gateway.clock.now()
    code, verifier = new_code(gateway, reg)
    refused = [
        dict(lifetime=365 * 86400),                                   # a year ahead
        dict(lifetime=MAX_ASSERTION_LIFETIME + 120),                  # just past the cap (+ leeway)
        dict(lifetime=MAX_ASSERTION_LIFETIME + 120, iat=None),        # ...also without iat
        dict(now=now - MAX_ASSERTION_LIFETIME - 120, lifetime=MAX_ASSERTION_LIFETIME + 180),  # exp - iat too long
        dict(exp=None),                                               # RFC 7523 §3: exp is required
        dict(exp="9999999999"), dict(exp=True), dict(exp=1e300),       # not a sane NumericDate
        dict(jti=None), dict(jti=12345), dict(jti=""),                # jti required, a string
        dict(iat=now + 3600),                                         # issued in the future
    ]
    for over in refused:
        over = {"now": now, **over}
        r = post(gateway, "/token", {**code_form(code, verifier),
                                     **assertion_form(assertion(key, alg="ES256", client_id=reg.client_id, aud=aud,
                                                                **over))})
        assert_invalid_client(r)
        assert r.status_code < 500, (over, r.text)
    ok = assertion(key, alg="ES256", client_id=reg.client_id, aud=aud, now=now, lifetime=MAX_ASSERTION_LIFETIME)
    r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(ok)})
    assert r.status_code == 200, r.text


def test_used_jti_is_kept_until_the_assertion_expires(gateway):
    from sqlalchemy import select

    from idgw.storage.models import UsedAssertion

    reg, key = register_jwt_client(gateway)
    tok = issue_tokens(gateway, reg, extra=assertion_form(
        assertion(key, alg="ES256", client_id=reg.client_id, aud=gateway.url + "/token",
                  now=gateway.clock.now(), lifetime=300)))
    assert tok["access_token"]
    with gateway.db() as db:
        expiries = list(db.scalars(select(UsedAssertion.expires_at)))
    assert expiries and max(expiries) <= gateway.clock.now() + 300 + 60


def test_concurrent_use_of_one_assertion_gives_one_success_and_one_invalid_client(gateway):
    """Regression (PostgreSQL): both requests saw no used-jti row, both inserted it, and the
    second failed on the primary key with a 500."""
    reg, key = register_jwt_client(gateway)
    for _ in range(3):
        codes = [new_code(gateway, reg) for _ in range(2)]
        form = assertion_form(assertion(key, alg="ES256", client_id=reg.client_id, aud=gateway.url + "/token"))
        barrier = threading.Barrier(2)
        results = []

        def redeem(code, verifier, form=form, barrier=barrier, results=results):
            barrier.wait()
            results.append(post(gateway, "/token", {**code_form(code, verifier), **form}))

        threads = [threading.Thread(target=redeem, args=c) for c in codes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status_code for r in results)
        assert statuses[0] == 200 and statuses[1] in (400, 401), [(r.status_code, r.text[:200]) for r in results]
        assert_invalid_client(max(results, key=lambda r: r.status_code))


# -- item 10: one client per request ---------------------------------------------------------------------

@pytest.mark.parametrize("path", BACK_CHANNEL)
def test_body_client_id_contradicting_basic_auth_is_invalid_client(gateway, path):
    """Regression: the body client_id was ignored once Basic authenticated another client."""
    reg = register(gateway)
    other = register(gateway)
    tok = issue_tokens(gateway, reg, auth=(reg.client_id, reg.client_secret))
    if path == "/token":
        code, verifier = new_code(gateway, reg)
        data = code_form(code, verifier)
    else:
        data = {"token": tok["access_token"]}
    r = post(gateway, path, {**data, "client_id": other.client_id}, auth=(reg.client_id, reg.client_secret))
    assert_invalid_client(r, basic=True)
    # the same request naming the authenticated client is fine
    r = post(gateway, path, {**data, "client_id": reg.client_id}, auth=(reg.client_id, reg.client_secret))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", BACK_CHANNEL)
def test_body_client_id_contradicting_the_assertion_is_invalid_client(gateway, path):
    """Regression: with private_key_jwt the body client_id was ignored."""
    reg, key = register_jwt_client(gateway)
    other = register(gateway)

    def form():
        return assertion_form(assertion(key, alg="ES256", client_id=reg.client_id, aud=gateway.url + "/token"))

    tok = issue_tokens(gateway, reg, extra=form())
    if path == "/token":
        code, verifier = new_code(gateway, reg)
        data = code_form(code, verifier)
    else:
        data = {"token": tok["access_token"]}
    r = post(gateway, path, {**data, **form(), "client_id": other.client_id})
    assert_invalid_client(r)
    r = post(gateway, path, {**data, **form(), "client_id": reg.client_id})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", BACK_CHANNEL)
def test_two_clients_or_two_methods_in_one_request_are_invalid_client(gateway, path):
    """Regression: Basic for one client plus another client's valid assertion (or a body
    client_secret) was accepted as the Basic client, the rest ignored (RFC 6749 §2.3: one
    authentication method per request)."""
    basic = register(gateway)
    jwt_reg, key = register_jwt_client(gateway)
    tok = issue_tokens(gateway, basic, auth=(basic.client_id, basic.client_secret))
    if path == "/token":
        code, verifier = new_code(gateway, basic)
        data = code_form(code, verifier)
    else:
        data = {"token": tok["access_token"]}
    other_assertion = assertion_form(assertion(key, alg="ES256", client_id=jwt_reg.client_id,
                                               aud=gateway.url + "/token"))
    r = post(gateway, path, {**data, **other_assertion}, auth=(basic.client_id, basic.client_secret))
    assert_invalid_client(r, basic=True)
    r = post(gateway, path, {**data, "client_secret": basic.client_secret}, auth=(basic.client_id, basic.client_secret))
    assert_invalid_client(r, basic=True)
    r = post(gateway, path, data, auth=(basic.client_id, basic.client_secret))
    assert r.status_code == 200, r.text


# -- item 17: malformed Basic credentials ----------------------------------------------------------------

def _malformed_basic(client_id: str, secret: str) -> dict[str, list[tuple[bytes, bytes]]]:
    good = b64(f"{client_id}:{secret}".encode())
    h = lambda v: [(b"authorization", v)]  # noqa: E731
    return {
        "raw non-ASCII": h(b"Basic \xff\xfe\xfd"),
        "non-UTF-8 after decoding": h(b"Basic " + b64(b"\xff\xfe:" + secret.encode())),
        "non-UTF-8 secret": h(b"Basic " + b64(client_id.encode() + b":\xc3\x28")),
        "NBSP after the credentials": h(b"Basic " + good + b"\xa0"),
        "NBSP as the separator": h(b"Basic\xa0" + good),
        "NEL before the credentials": h(b"Basic \x85" + good),
        "tab as the separator": h(b"Basic\t" + good),
        "Unicode whitespace in the client_id": h(b"Basic " + b64(f"{client_id}\u2028:{secret}".encode())),
        "not base64": h(b"Basic !!!not*base64"),
        "bad padding": h(b"Basic " + good.rstrip(b"=") + b"==="),
        "no colon": h(b"Basic " + b64(client_id.encode())),
        "padding only": h(b"Basic =="),
        "scheme only": h(b"Basic"),
        "empty client_id": h(b"Basic " + b64(b":" + secret.encode())),
        "empty secret": h(b"Basic " + b64(client_id.encode() + b":")),
        "NUL in the client_id": h(b"Basic " + b64(b"ab\x00cd:" + secret.encode())),
        "bad percent-encoding": h(b"Basic " + b64(b"%ff%fe:" + secret.encode())),
        "over-long": h(b"Basic " + b64(b"a" * 6000 + b":" + b"b" * 6000)),
        "another scheme": h(b"Bearer " + good),
        "two headers": h(b"Basic " + good) + h(b"Basic " + good),
    }


@pytest.mark.parametrize("path", BACK_CHANNEL)
def test_malformed_basic_credentials_are_401_invalid_client_json(gateway, path):
    """Regression (raw non-ASCII, non-UTF-8 after decoding, NBSP/NEL, NUL on PostgreSQL): 500."""
    reg = register(gateway)
    tok = issue_tokens(gateway, reg, auth=(reg.client_id, reg.client_secret))
    data = {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]} if path == "/token" \
        else {"token": tok["access_token"]}
    body = httpx.QueryParams(data).__str__().encode()
    with httpx.Client(base_url=gateway.url, timeout=20) as http:
        for name, headers in _malformed_basic(reg.client_id, reg.client_secret).items():
            r = http.post(path, content=body,
                          headers=[(b"content-type", b"application/x-www-form-urlencoded"), *headers])
            assert r.status_code == 401, (name, r.status_code, r.text[:300])
            assert_invalid_client(r, basic=True)
        # the refresh token and access token survived all of that, and good credentials still work
        r = post(gateway, path, data, auth=(reg.client_id, reg.client_secret))
        assert r.status_code == 200, r.text


def test_percent_encoded_basic_credentials_still_work(gateway):
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding."""
    from urllib.parse import quote

    reg = register(gateway)
    tok = issue_tokens(gateway, reg, auth=(reg.client_id, reg.client_secret))
    cred = b64(f"{quote(reg.client_id, safe='')}:{quote(reg.client_secret, safe='')}".encode()).decode()
    r = post(gateway, "/introspect", {"token": tok["access_token"]}, headers={"Authorization": f"basic  {cred}"})
    assert r.status_code == 200 and r.json()["active"] is True, r.text


@pytest.mark.parametrize("path", BACK_CHANNEL)
def test_nul_or_non_ascii_client_id_in_the_body_is_not_a_server_error(gateway, path):
    """Regression (PostgreSQL): a NUL in client_id reached the database as a string literal (500).
    A control character in any parameter is now a malformed request (invalid_request, 400, before
    client authentication: idgw.oidc.adapter.parse_params); other unusable client_ids fail it."""
    r = post(gateway, path, {"grant_type": "refresh_token", "refresh_token": "x", "token": "x",
                             "client_id": "ab\x00cd", "client_secret": "s"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    for client_id in ("ไทย-client", "x" * 65):
        r = post(gateway, path, {"grant_type": "refresh_token", "refresh_token": "x", "token": "x",
                                 "client_id": client_id, "client_secret": "s"})
        assert_invalid_client(r)
        token = assertion(client_key(), alg="ES256", client_id=client_id, aud=gateway.url + "/token")
        r = post(gateway, path, {"grant_type": "refresh_token", "refresh_token": "x", "token": "x",
                                 **assertion_form(token)})
        assert_invalid_client(r)


# -- item 13: registration accepts only keys the token endpoint can use ----------------------------------

def _ec(crv="P-256", **members):
    key = ECKey.generate_key(crv, private=True)
    return {**key.as_dict(private=False), "kid": f"ec-{crv}", **members}


def _rsa(bits=2048, **members):
    key = RSAKey.generate_key(bits, private=True)
    return {**key.as_dict(private=False), "kid": f"rsa-{bits}", **members}


BAD_JWKS = {
    "not an object": ([], "JSON object"),
    "no keys": ({}, "keys"),
    "empty keys": ({"keys": []}, "keys"),
    "keys not a list": ({"keys": {"kty": "EC"}}, "keys"),
    "a key that is not an object": ({"keys": ["x"]}, "#0"),
    "kty not a string": ({"keys": [{**_ec(), "kty": ["EC"]}]}, "kty"),
    "kty an object": ({"keys": [{**_ec(), "kty": {"EC": 1}}]}, "kty"),
    "private EC key": ({"keys": [{**ECKey.generate_key("P-256", private=True).as_dict(private=True), "kid": "leak"}]},
                       "leak"),
    "private RSA key": ({"keys": [{**RSAKey.generate_key(2048, private=True).as_dict(private=True), "kid": "r"}]},
                        "private"),
    "oct key": ({"keys": [{**OctKey.generate_key(256).as_dict(), "kid": "sym"}]}, "sym"),
    "P-384": ({"keys": [_ec("P-384")]}, "P-384"),
    "P-521": ({"keys": [_ec("P-521")]}, "P-521"),
    "secp256k1": ({"keys": [_ec("secp256k1")]}, "secp256k1"),
    "Ed25519": ({"keys": [{**OKPKey.generate_key("Ed25519", private=True).as_dict(private=False),
                           "kid": "ed"}]}, "ed"),
    "RSA 1024": ({"keys": [_rsa(1024)]}, "2048"),
    "alg ES384 on P-256": ({"keys": [_ec(alg="ES384")]}, "ES384"),
    "alg RS256 on EC": ({"keys": [_ec(alg="RS256")]}, "RS256"),
    "alg HS256": ({"keys": [_ec(alg="HS256")]}, "HS256"),
    "alg none": ({"keys": [_rsa(alg="none")]}, "none"),
    "use enc": ({"keys": [_ec(use="enc")]}, "use"),
    "key_ops without verify": ({"keys": [_ec(key_ops=["encrypt"])]}, "key_ops"),
    "point not on the curve": ({"keys": [{**_ec(), "y": _ec()["y"]}]}, "ec-P-256"),
    "duplicate kid": ({"keys": [_ec(), _ec()]}, "kid"),
    "second key bad": ({"keys": [_ec(), _rsa(1024)]}, "rsa-1024"),
    "unnamed second key": ({"keys": [_ec(), {k: v for k, v in _ec("P-384").items() if k != "kid"}]}, "#1"),
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_registration_refuses_jwks_the_token_endpoint_cannot_use(gateway):
    """Regression: any JWKS was stored, including private keys and keys no assertion could use."""
    with gateway.db() as db:
        for name, (jwks, words) in BAD_JWKS.items():
            with pytest.raises(AdminError) as err:
                add_client(db, name="x", redirect_uris=[REDIRECT_URI], auth_method="private_key_jwt", jwks=jwks,
                           now=gateway.clock.now())
            assert words in str(err.value), (name, str(err.value))
        for jwks_uri in ("ftp://keys.example/jwks", "http://keys.example/jwks", "/jwks"):
            with pytest.raises(AdminError, match="jwks_uri"):
                add_client(db, name="x", redirect_uris=[REDIRECT_URI], auth_method="private_key_jwt",
                           jwks_uri=jwks_uri, now=gateway.clock.now())
        with pytest.raises(AdminError, match="jwks_uri"):
            add_client(db, name="x", redirect_uris=[REDIRECT_URI], auth_method="private_key_jwt",
                       jwks=public_jwks(client_key()), jwks_uri="https://keys.example/jwks", now=gateway.clock.now())
        good = {"keys": [_ec(), _ec(alg="ES256", use="sig", key_ops=["verify"]) | {"kid": "ec2"},
                         _rsa(), _rsa(3072, alg="PS256") | {"kid": "rsa3"}]}
        new = add_client(db, name="x", redirect_uris=[REDIRECT_URI], auth_method="private_key_jwt", jwks=good,
                         now=gateway.clock.now())
        add_client(db, name="y", redirect_uris=[REDIRECT_URI], auth_method="private_key_jwt",
                   jwks_uri="https://keys.example/jwks", now=gateway.clock.now())
        db.commit()
    assert new.client_id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_reports_a_bad_jwks_file_in_one_line(gateway, database_url, tmp_path):
    """Regression: invalid JSON in --jwks-file was a traceback; a private key was stored."""
    cases = {"not json": ("{not json", "JSON"), "private key": (json.dumps({"keys": [
        {**ECKey.generate_key("P-256", private=True).as_dict(private=True), "kid": "k1"}]}), "k1")}
    for name, (text, words) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        out = run_cli(database_url, "client", "add", "--name", "x", "--redirect-uri", REDIRECT_URI,
                      "--auth-method", "private_key_jwt", "--jwks-file", str(path))
        assert out.returncode == 1, (name, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert words in out.stderr, out.stderr
    out = run_cli(database_url, "client", "add", "--name", "x", "--redirect-uri", REDIRECT_URI,
                  "--auth-method", "private_key_jwt", "--jwks-file", str(tmp_path / "missing.json"))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr


# -- jwks_uri: keys fetched at run time ------------------------------------------------------------------

class _JwksServer:
    def __init__(self) -> None:
        self.body = b"{}"
        self.hits = 0
        self.byte_delay = 0.0  # seconds between the body's bytes (a trickling server)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hits += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(server.body)))
                self.end_headers()
                if not server.byte_delay:
                    self.wfile.write(server.body)
                    return
                for i in range(len(server.body)):
                    self.wfile.write(server.body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(server.byte_delay)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server():
    server = _JwksServer()
    yield server
    server.close()


def _register_jwks_uri_client(gateway, uri):
    from tests.flow import set_policy

    with gateway.db() as db:
        new = add_client(db, name="jwks_uri client", redirect_uris=[REDIRECT_URI], auth_method="private_key_jwt",
                         jwks_uri=uri, now=gateway.clock.now())
        db.commit()
    set_policy(gateway, new.client_id)
    reg = register(gateway)  # for the account; the flow below uses the jwks_uri client's id
    return type(reg)(new.client_id, None, reg.username, reg.account_id)


def test_jwks_uri_keys_the_endpoint_cannot_use_are_ignored(gateway, jwks_server):
    """Regression: one key the library could not import (or a P-384/oct key) beside the good one
    made every assertion fail with invalid_grant; a non-JWKS answer was invalid_grant too."""
    key = client_key("PS256")
    junk = [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "broken"},
            _ec("P-384"), {**OctKey.generate_key(256).as_dict(), "kid": "sym"}, _rsa(1024),
            {**ECKey.generate_key("P-256", private=True).as_dict(private=True), "kid": "with-d"}, "not a key",
            {**_ec(), "kty": ["EC"], "kid": "listed-kty"}]
    jwks_server.body = json.dumps({"keys": [*junk, key.as_dict(private=False)]}).encode()
    reg = _register_jwks_uri_client(gateway, jwks_server.url)
    aud = gateway.url + "/token"
    code, verifier = new_code(gateway, reg)
    r = post(gateway, "/token", {**code_form(code, verifier),
                                 **assertion_form(assertion(key, alg="PS256", client_id=reg.client_id, aud=aud))})
    assert r.status_code == 200, r.text
    # an assertion naming one of the ignored keys fails as invalid_client
    sym = OctKey.import_key(junk[2])
    token = assertion(sym, alg="HS256", client_id=reg.client_id, aud=aud)
    code, verifier = new_code(gateway, reg)
    assert_invalid_client(post(gateway, "/token", {**code_form(code, verifier), **assertion_form(token)}))


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"keys": "x"}', b'{"keys": [{"kty": "oct", "k": "AAAA"}]}'])
def test_jwks_uri_without_usable_keys_is_invalid_client(gateway, jwks_server, body):
    jwks_server.body = body
    reg = _register_jwks_uri_client(gateway, jwks_server.url)
    code, verifier = new_code(gateway, reg)
    token = assertion(client_key(), alg="ES256", client_id=reg.client_id, aud=gateway.url + "/token")
    assert_invalid_client(post(gateway, "/token", {**code_form(code, verifier), **assertion_form(token)}))


def test_a_failed_jwks_uri_is_not_read_again_on_every_request(gateway, jwks_server):
    """The keys are looked up before an assertion's signature is checked, so anyone can name a
    jwks_uri client: a read that failed is remembered for JWKS_RETRY_SECONDS instead of being
    repeated (a worker thread each) on every such request; then the jwks_uri is read again."""
    from idgw.oidc.provider import JWKS_RETRY_SECONDS

    jwks_server.body = b"not json"
    reg = _register_jwks_uri_client(gateway, jwks_server.url)
    key = client_key()
    aud = gateway.url + "/token"
    refresh = {"grant_type": "refresh_token", "refresh_token": "unknown"}
    for _ in range(3):
        token = assertion(key, alg="ES256", client_id=reg.client_id, aud=aud)
        assert_invalid_client(post(gateway, "/token", {**refresh, **assertion_form(token)}))
    assert jwks_server.hits == 1
    jwks_server.body = json.dumps(public_jwks(key)).encode()
    gateway.clock.advance(JWKS_RETRY_SECONDS + 1)
    code, verifier = new_code(gateway, reg)
    token = assertion(key, alg="ES256", client_id=reg.client_id, aud=aud, now=gateway.clock.now())
    r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(token)})
    assert r.status_code == 200, r.text
    assert jwks_server.hits == 2


def test_a_trickling_jwks_uri_is_given_up_on(gateway, jwks_server, monkeypatch):
    """httpx's timeout is per read: a jwks_uri sending a byte every second would hold a worker
    thread for as long as it liked. The body has JWKS_FETCH_DEADLINE in all."""
    import idgw.oidc.provider

    monkeypatch.setattr(idgw.oidc.provider, "JWKS_FETCH_DEADLINE", 0.5)
    key = client_key()
    jwks_server.body = json.dumps(public_jwks(key)).encode()
    jwks_server.byte_delay = 0.1  # the whole body would take tens of seconds
    reg = _register_jwks_uri_client(gateway, jwks_server.url)
    token = assertion(key, alg="ES256", client_id=reg.client_id, aud=gateway.url + "/token")
    started = time.monotonic()
    r = post(gateway, "/token", {"grant_type": "refresh_token", "refresh_token": "unknown", **assertion_form(token)})
    assert_invalid_client(r)
    assert time.monotonic() - started < 5, "the fetch was not cut off at its deadline"


def test_malformed_assertions_are_invalid_client_not_server_errors(gateway):
    reg, key = register_jwt_client(gateway)
    aud = gateway.url + "/token"
    code, verifier = new_code(gateway, reg)
    signed = assertion(key, alg="ES256", client_id=reg.client_id, aud=aud)
    head, payload, sig = signed.split(".")

    def enc_raw(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def enc(d):
        return enc_raw(json.dumps(d).encode())

    deep = b"[" * 5000 + b"]" * 5000
    deep_sub = b'{"sub": ' + deep + b"}"
    bad = [
        "x", "a.b.c", f"{head}.{payload}", signed + ".x", "ไทย.ไทย.ไทย",
        f"{enc({'alg': ['ES256']})}.{payload}.{sig}",
        f"{enc({'alg': 'ES256', 'kid': {'a': 1}})}.{payload}.{sig}",
        f"{enc({'alg': 'ES256', 'crit': ['exp']})}.{payload}.{sig}",
        f"{head}.{enc(['not', 'an', 'object'])}.{sig}",
        f"{head}.{enc({'sub': reg.client_id, 'iss': reg.client_id, 'aud': aud})}.{sig}",
        jws.serialize_compact({"alg": "ES256"}, b"\xff\xfe", key),
        # nested deeper than json.loads recurses (a RecursionError, a 500), signed or not
        f"{head}.{enc_raw(deep)}.{sig}",
        f"{head}.{enc_raw(deep_sub)}.{sig}",
        jws.serialize_compact({"alg": "ES256"}, deep, key),
    ]
    for value in bad:
        r = post(gateway, "/token", {**code_form(code, verifier), **assertion_form(value)})
        assert_invalid_client(r)
    # a client registered for another method cannot switch to assertions
    basic = register(gateway)
    token = assertion(key, alg="ES256", client_id=basic.client_id, aud=aud)
    code2, verifier2 = new_code(gateway, basic)
    assert_invalid_client(post(gateway, "/token", {**code_form(code2, verifier2), **assertion_form(token)}))
