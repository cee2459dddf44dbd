"""Discovery and behaviour agree (security review item 4): fetch the running gateway's discovery
document and exercise every advertised value; values a client could try that are not advertised
are refused as advertised. A new member or value in discovery fails here until it is walked.

Regression: private_key_jwt with PS256 was advertised and refused (joserfc: "not recommended")."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwt as jose_jwt

from tests.flow import (
    REDIRECT_URI,
    Browser,
    authorize_url,
    callback_params,
    login_flow,
    register,
    rp_client,
)
from tests.security.clientauth import assertion, assertion_form, client_key, code_form, public_jwks

# TODO(acr/claims owner): acr_values_supported and claims_supported are being reworked in
# parallel; walk each advertised acr value (request it, see it in the ID token or a step-up) and
# each advertised claim (released for its scope or the claims parameter) here once that lands.
# Until then they are deliberately not asserted.
TODO_MEMBERS = {"acr_values_supported", "claims_supported"}
#: Walked by other modules (named so that a new member is a decision, not an oversight).
WALKED_ELSEWHERE = {
    "verified_claims_supported": "tests/test_assurance_flow.py, tests/security/test_release.py",
    "trust_frameworks_supported": "tests/test_assurance_flow.py, tests/security/test_release.py",
    "evidence_supported": "tests/test_assurance_flow.py, tests/security/test_release.py",
    "claims_in_verified_claims_supported": "tests/test_assurance_flow.py, tests/security/test_release.py",
    "backchannel_logout_supported": "tests/security/test_logout.py",
    "backchannel_logout_session_supported": "tests/security/test_logout.py",
    "end_session_endpoint": "tests/test_session.py, tests/security/test_logout.py",
}
WALKED_HERE = {
    "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "introspection_endpoint",
    "revocation_endpoint", "scopes_supported", "response_types_supported", "response_modes_supported",
    "grant_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_methods_supported", "code_challenge_methods_supported", "prompt_values_supported",
    "ui_locales_supported", "claims_parameter_supported", "request_parameter_supported",
    "request_uri_parameter_supported", "authorization_response_iss_parameter_supported",
    "frontchannel_logout_supported",
}
CITIZEN_ID = "1345951597671"


def discovery(gateway) -> dict:
    r = httpx.get(gateway.url + "/.well-known/openid-configuration")
    assert r.status_code == 200
    return r.json()


@dataclass
class Client:
    """A registered client and how it authenticates: (method, alg) from discovery."""

    method: str
    alg: str | None
    reg: object
    key: object = None

    def sign(self, form: dict, meta: dict) -> tuple[dict, dict]:
        """(form, httpx keyword arguments) carrying this client's credentials."""
        reg = self.reg
        if self.method == "client_secret_basic":
            return form, {"auth": (reg.client_id, reg.client_secret)}
        if self.method == "client_secret_post":
            return {**form, "client_id": reg.client_id, "client_secret": reg.client_secret}, {}
        if self.method == "private_key_jwt":
            # RFC 7523 §3 / OIDC Core §9: the audience is the token endpoint, at every endpoint.
            token = assertion(self.key, alg=self.alg, client_id=reg.client_id, aud=meta["token_endpoint"])
            return {**form, **assertion_form(token)}, {}
        if self.method == "none":
            return {**form, "client_id": reg.client_id}, {}
        raise AssertionError(f"advertised auth method {self.method!r} is not walked: add it here")

    def post(self, url: str, form: dict, meta: dict) -> httpx.Response:
        form, kw = self.sign(form, meta)
        return httpx.post(url, data=form, timeout=20, **kw)


def auth_variants(meta: dict, methods: list[str]) -> list[tuple[str, str | None]]:
    """Each method, and private_key_jwt once per advertised signing alg."""
    out = []
    for method in methods:
        if method == "private_key_jwt":
            algs = meta["token_endpoint_auth_signing_alg_values_supported"]
            assert algs, "private_key_jwt advertised without signing algorithms"
            out += [(method, alg) for alg in algs]
        else:
            out.append((method, None))
    return out


def new_client(gateway, method: str, alg: str | None, **kw) -> Client:
    if method == "private_key_jwt":
        key = client_key(alg)
        return Client(method, alg, register(gateway, auth_method=method, jwks=public_jwks(key, alg=alg), **kw), key)
    return Client(method, alg, register(gateway, auth_method=method, **kw))


def tokens_for(gateway, meta, client: Client, **flow) -> dict:
    params, _, _, verifier, _, _ = login_flow(gateway, client.reg, **flow)
    r = client.post(meta["token_endpoint"], code_form(params["code"], verifier), meta)
    assert r.status_code == 200, (client.method, client.alg, r.text)
    return r.json()


def authorize(gateway, meta, reg, **over) -> httpx.Response:
    params = dict(response_type="code", client_id=reg.client_id, redirect_uri=REDIRECT_URI, scope="openid",
                  state="st-walk", nonce="n-walk", code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSstw-cM",
                  code_challenge_method="S256")
    params.update(over)
    params = {k: v for k, v in params.items() if v is not None}
    return httpx.get(meta["authorization_endpoint"] + "?" + urlencode(params), follow_redirects=False)


def redirected_error(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return parse_qs(urlsplit(location).query)["error"][0]


# -- the document itself ----------------------------------------------------------------------------------

def test_every_discovery_member_is_walked_or_accounted_for(gateway):
    meta = discovery(gateway)
    unknown = set(meta) - WALKED_HERE - set(WALKED_ELSEWHERE) - TODO_MEMBERS
    assert not unknown, f"discovery members nobody walks: {sorted(unknown)}"
    assert meta["issuer"] == gateway.url
    for member in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                   "introspection_endpoint", "revocation_endpoint"):
        assert meta[member].startswith(gateway.url + "/"), member


# -- client authentication ---------------------------------------------------------------------------------

def test_each_token_endpoint_auth_method_and_alg_completes_a_code_flow_and_a_refresh(gateway):
    """Regression: private_key_jwt with PS256 was refused."""
    meta = discovery(gateway)
    failures = []
    for method, alg in auth_variants(meta, meta["token_endpoint_auth_methods_supported"]):
        client = new_client(gateway, method, alg)
        try:
            tok = tokens_for(gateway, meta, client)
            assert tok["id_token"] and tok["access_token"] and tok["refresh_token"], tok
            r = client.post(meta["token_endpoint"], {"grant_type": "refresh_token",
                                                     "refresh_token": tok["refresh_token"]}, meta)
            assert r.status_code == 200 and r.json()["access_token"], r.text
        except AssertionError as exc:
            failures.append(f"{method}/{alg}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("endpoint", ["introspection", "revocation"])
def test_introspection_and_revocation_accept_each_advertised_method_and_refuse_the_rest(gateway, endpoint):
    meta = discovery(gateway)
    advertised = meta[f"{endpoint}_endpoint_auth_methods_supported"]
    url = meta[f"{endpoint}_endpoint"]
    failures = []
    for method, alg in auth_variants(meta, meta["token_endpoint_auth_methods_supported"]):
        client = new_client(gateway, method, alg)
        tok = tokens_for(gateway, meta, client)
        r = client.post(url, {"token": tok["access_token"]}, meta)
        if method not in advertised:
            # e.g. a public client (none): not advertised for this endpoint, so refused.
            if r.status_code not in (400, 401) or r.json().get("error") != "invalid_client":
                failures.append(f"{method}: not advertised but answered {r.status_code} {r.text[:200]}")
            continue
        if r.status_code != 200:
            failures.append(f"{method}/{alg}: {r.status_code} {r.text[:200]}")
            continue
        if endpoint == "introspection":
            if r.json().get("active") is not True:
                failures.append(f"{method}/{alg}: access token not active: {r.text[:200]}")
        else:
            # revoked: the access token no longer works at userinfo
            gone = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tok['access_token']}"})
            if gone.status_code != 401:
                failures.append(f"{method}/{alg}: revoked access token still accepted ({gone.status_code})")
    assert not failures, "\n".join(failures)


def test_assertion_algs_not_advertised_are_refused(gateway):
    """An RSA key registered without "alg" could sign RS384/RS512/PS384/PS512 too: only the
    advertised algorithms are accepted, whatever the key could do."""
    meta = discovery(gateway)
    advertised = set(meta["token_endpoint_auth_signing_alg_values_supported"])
    assert not advertised & {"none", "HS256", "HS384", "HS512"}
    key = client_key("RS256")
    client = Client("private_key_jwt", None, register(gateway, auth_method="private_key_jwt", jwks=public_jwks(key)),
                    key)
    params, _, _, verifier, _, _ = login_flow(gateway, client.reg)
    for alg in {"RS384", "RS512", "PS384", "PS512"} - advertised:
        token = assertion(key, alg=alg, client_id=client.reg.client_id, aud=meta["token_endpoint"])
        r = httpx.post(meta["token_endpoint"], data={**code_form(params["code"], verifier), **assertion_form(token)})
        assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client", (alg, r.text)
    for alg in advertised & {"RS256", "PS256"}:
        client.alg = alg
        assert tokens_for(gateway, meta, client)["access_token"]


# -- ID tokens -----------------------------------------------------------------------------------------------

def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_independently(token: str, jwks: dict, *, alg: str, audience: str, access_token: str) -> dict:
    """Verify with a library that is not the gateway's: python-jose (ES256, RS256) or the
    `cryptography` package (PS256, which python-jose lacks; RFC 7518 §3.5: salt = hash length)."""
    header = jose_jwt.get_unverified_header(token)
    assert header["alg"] == alg, header
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    if alg in ("ES256", "RS256"):
        return jose_jwt.decode(token, key, algorithms=[alg], audience=audience, access_token=access_token)
    if alg == "PS256":
        signing_input, _, sig = token.rpartition(".")
        public = rsa.RSAPublicNumbers(int.from_bytes(_b64d(key["e"]), "big"),
                                      int.from_bytes(_b64d(key["n"]), "big")).public_key()
        public.verify(_b64d(sig), signing_input.encode(),
                      padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        import json

        claims = json.loads(_b64d(token.split(".")[1]))
        assert claims["aud"] == audience
        return claims
    raise AssertionError(f"advertised ID token alg {alg!r} is not walked: add an independent verifier")


def test_each_id_token_signing_alg_signs_an_id_token_that_verifies_independently(gateway):
    meta = discovery(gateway)
    jwks = httpx.get(meta["jwks_uri"]).json()
    assert meta["id_token_signing_alg_values_supported"]
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    for alg in meta["id_token_signing_alg_values_supported"]:
        client = new_client(gateway, "client_secret_basic", None, id_token_alg=alg)
        tok = tokens_for(gateway, meta, client)
        claims = verify_independently(tok["id_token"], jwks, alg=alg, audience=client.reg.client_id,
                                      access_token=tok["access_token"])
        assert claims["iss"] == meta["issuer"], claims


# -- the authorization request ----------------------------------------------------------------------------

def test_only_advertised_code_challenge_methods_are_accepted(gateway):
    meta = discovery(gateway)
    assert meta["code_challenge_methods_supported"] == ["S256"]  # S256 only; plain is never advertised
    reg = register(gateway)
    login_flow(gateway, reg)  # S256 (tests/flow.py) completes
    assert redirected_error(authorize(gateway, meta, reg, code_challenge_method="plain")) == "invalid_request"
    assert redirected_error(authorize(gateway, meta, reg, code_challenge_method=None)) == "invalid_request"
    assert redirected_error(authorize(gateway, meta, reg, code_challenge=None,
                                      code_challenge_method=None)) == "invalid_request"


def test_response_types_and_modes_as_advertised(gateway):
    meta = discovery(gateway)
    reg = register(gateway)
    for response_type in meta["response_types_supported"]:
        assert response_type == "code", f"advertised response_type {response_type!r} is not walked"
        params, *_ = login_flow(gateway, reg, response_type=response_type)
        assert "code" in params
    for mode in meta["response_modes_supported"]:
        assert mode == "query", f"advertised response_mode {mode!r} is not walked"
        _, _, _, _, rp, b = login_flow(gateway, reg)
        url, *_ = authorize_url(gateway, rp, response_mode=mode)
        response = b.follow(b.get(url))
        assert "code" in callback_params(response) and "#" not in response.headers["location"]
    for response_type in {"token", "id_token", "code id_token", "code token", "id_token token", "none"} - set(
            meta["response_types_supported"]):
        assert redirected_error(authorize(gateway, meta, reg, response_type=response_type)) == \
            "unsupported_response_type", response_type
    for mode in {"fragment", "form_post", "query.jwt", "jwt"} - set(meta["response_modes_supported"]):
        assert redirected_error(authorize(gateway, meta, reg, response_mode=mode)) == "invalid_request", mode


def test_grant_types_as_advertised(gateway):
    meta = discovery(gateway)
    # the first two walked by the auth-method test above; token exchange by
    # tests/delegation/test_token_exchange.py (it needs a delegation), and refused here to a
    # client not registered for it
    exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    known = {"authorization_code", "refresh_token", exchange}
    assert set(meta["grant_types_supported"]) <= known, "an advertised grant type is not walked"
    client = new_client(gateway, "client_secret_basic", None)
    tok = tokens_for(gateway, meta, client)
    r = client.post(meta["token_endpoint"], {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]},
                    meta)
    assert r.status_code == 200, r.text
    r = client.post(meta["token_endpoint"], {"grant_type": exchange, "subject_token": r.json()["access_token"],
                                             "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                                             "audience": client.reg.client_id}, meta)
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client", r.text
    others = {"password", "client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer",
              "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:token-exchange",
              "urn:openid:params:grant-type:ciba"}
    for grant_type in others - set(meta["grant_types_supported"]):
        r = client.post(meta["token_endpoint"], {"grant_type": grant_type, "username": client.reg.username,
                                                 "password": "x", "assertion": "x.y.z"}, meta)
        assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type", (grant_type, r.text)


def test_prompt_values_as_advertised(gateway):
    meta = discovery(gateway)
    reg = register(gateway)
    _, _, _, _, rp, b = login_flow(gateway, reg)
    for prompt in meta["prompt_values_supported"]:
        url, *_ = authorize_url(gateway, rp, prompt=prompt)
        page = b.follow(b.get(url))
        if prompt == "none":
            assert "code" in callback_params(page)  # a session exists: no page at all
            fresh = Browser(gateway)
            url, *_ = authorize_url(gateway, rp, prompt=prompt)
            assert callback_params(fresh.follow(fresh.get(url)))["error"] == "login_required"
        elif prompt == "login":
            assert 'name="password"' in page.text, page.text[:300]
        elif prompt == "consent":
            assert 'value="allow"' in page.text and 'name="password"' not in page.text, page.text[:300]
        else:
            raise AssertionError(f"advertised prompt {prompt!r} is not walked")
    for prompt in {"select_account", "create"} - set(meta["prompt_values_supported"]):
        assert redirected_error(authorize(gateway, meta, reg, prompt=prompt)) == "invalid_request", prompt


def test_ui_locales_as_advertised(gateway):
    meta = discovery(gateway)
    reg = register(gateway)
    words = {"th": "เข้าสู่ระบบ", "en": "Sign in"}
    for locale in meta["ui_locales_supported"]:
        assert locale in words, f"advertised ui_locale {locale!r} is not walked"
        url, *_ = authorize_url(gateway, rp_client(gateway, reg), ui_locales=locale)
        b = Browser(gateway)
        page = b.follow(b.get(url))
        assert f'lang="{locale}"' in page.text and words[locale] in page.text, (locale, page.text[:300])


def test_scopes_as_advertised(gateway):
    meta = discovery(gateway)
    assert "openid" in meta["scopes_supported"]
    failures = []
    for scope in meta["scopes_supported"]:
        reg = register(gateway, citizen_id=CITIZEN_ID if scope == "citizen_id" else None)
        client = Client("client_secret_basic", None, reg)
        requested = "openid" if scope == "openid" else f"openid {scope}"
        try:
            tok = tokens_for(gateway, meta, client, scope=requested)
            assert scope in tok["scope"].split(), tok["scope"]
            assert ("refresh_token" in tok) == (scope == "offline_access"), tok
            info = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tok['access_token']}"})
            assert info.status_code == 200 and info.json()["sub"], info.text
            # (which claims each scope releases is claims_supported's walk: see the TODO at the top)
        except AssertionError as exc:
            failures.append(f"{scope}: {exc}")
    assert not failures, "\n".join(failures)
    reg = register(gateway)
    assert redirected_error(authorize(gateway, meta, reg, scope="openid no_such_scope")) == "invalid_scope"


def test_subject_types_as_advertised(gateway):
    meta = discovery(gateway)
    for subject_type in meta["subject_types_supported"]:
        client = new_client(gateway, "client_secret_basic", None, subject_type=subject_type)
        subs = set()
        for _ in range(2):
            tok = tokens_for(gateway, meta, client)
            subs.add(jose_jwt.get_unverified_claims(tok["id_token"])["sub"])
        assert len(subs) == 1, subs  # stable
        if subject_type == "public":
            assert subs == {client.reg.account_id}
        elif subject_type == "pairwise":
            assert client.reg.account_id not in subs  # not the account id (OIDC Core §8.1)
        else:
            raise AssertionError(f"advertised subject type {subject_type!r} is not walked")


def test_request_objects_claims_parameter_iss_and_userinfo_format_as_advertised(gateway):
    meta = discovery(gateway)
    reg = register(gateway)
    unsigned = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    assert meta["request_parameter_supported"] is False, "request objects advertised but not walked"
    assert redirected_error(authorize(gateway, meta, reg, request=unsigned)) == "request_not_supported"
    assert meta["request_uri_parameter_supported"] is False, "request_uri advertised but not walked"
    assert redirected_error(authorize(gateway, meta, reg, request_uri="https://rp.example.test/req.jwt")) == \
        "request_uri_not_supported"
    # claims_parameter_supported: the parameter is accepted (what it releases: claims_supported, TODO above)
    if meta["claims_parameter_supported"]:
        params, *_ = login_flow(gateway, reg, claims='{"userinfo": {"email": null}}')
        assert "code" in params
    # authorization_response_iss_parameter_supported (RFC 9207)
    params, *_ = login_flow(gateway, reg)
    assert params.get("iss") == meta["issuer"] if meta["authorization_response_iss_parameter_supported"] \
        else "iss" not in params
    # userinfo_signing_alg_values_supported: empty -> userinfo answers plain JSON
    assert meta["userinfo_signing_alg_values_supported"] == [], "signed userinfo advertised but not walked"
    client = Client("client_secret_basic", None, reg)
    tok = tokens_for(gateway, meta, client)
    info = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert info.headers["content-type"].startswith("application/json") and info.json()["sub"]
    assert meta["frontchannel_logout_supported"] is False, "front-channel logout advertised but not walked"
