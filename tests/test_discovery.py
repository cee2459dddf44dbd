"""Discovery, JWKS and the headers every response carries."""

import httpx


def test_discovery_document_is_complete_and_self_consistent(gateway):
    meta = httpx.get(gateway.url + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == gateway.url
    for name in ("authorization", "token", "userinfo", "introspection", "revocation", "end_session"):
        assert meta[f"{name}_endpoint"].startswith(gateway.url + "/")
    assert meta["jwks_uri"] == gateway.url + "/jwks.json"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token",
                                             "urn:ietf:params:oauth:grant-type:token-exchange"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert meta["id_token_signing_alg_values_supported"][0] == "ES256"
    assert {"RS256", "PS256"} <= set(meta["id_token_signing_alg_values_supported"])
    assert "urn:idgw:aal:2.2" in meta["acr_values_supported"]
    assert {"openid", "profile", "email", "offline_access", "citizen_id"} <= set(meta["scopes_supported"])


def test_jwks_publishes_public_keys_only_with_kid(gateway):
    keys = httpx.get(gateway.url + "/jwks.json").json()["keys"]
    assert {k["kty"] for k in keys} == {"EC", "RSA"}
    for k in keys:
        assert k["kid"] and k["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(k), "private material leaked"


def test_security_headers_on_pages_and_api(gateway):
    for path in ("/", "/.well-known/openid-configuration", "/authorize?client_id=nobody"):
        r = httpx.get(gateway.url + path)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_home_page_speaks_thai_by_default_and_english_on_request(gateway):
    th = httpx.get(gateway.url + "/")
    assert 'lang="th"' in th.text and "ระบบยืนยันตัวตน" in th.text
    en = httpx.get(gateway.url + "/?lang=en")
    assert 'lang="en"' in en.text and "Government identity gateway" in en.text
    assert "idgw_lang=en" in en.headers["set-cookie"]


def test_discovery_and_jwks_answered_from_memory_keep_every_header_of_the_first_answer(gateway):
    """The first answer goes through every layer; later ones are replayed ahead of them
    (app.WellKnownDocuments) and must carry the same headers, security headers included."""
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        answers = [httpx.get(gateway.url + path, headers={"Cookie": "idgw_browser=x"}) for _ in range(3)]
        first, *later = answers
        assert first.headers["x-content-type-options"] == "nosniff" and "permissions-policy" in first.headers
        for r in later:
            assert r.status_code == 200 and r.content == first.content
            assert {k: v for k, v in r.headers.items() if k not in ("date", "x-request-id")} \
                == {k: v for k, v in first.headers.items() if k not in ("date", "x-request-id")}, path
            assert "set-cookie" not in r.headers
