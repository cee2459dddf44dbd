"""The OpenAPI 3.1 document of the gateway's machine endpoints, served at ``/openapi.json``.

FastAPI's generated schema cannot describe these endpoints: they read raw requests, and /token,
/introspect and /revoke are answered ahead of FastAPI's routing (``idgw.oidc.endpoints``). So the
document is written here as data, built from the constants the code itself uses (endpoint paths,
scopes, client authentication methods, algorithms, acr values, parameter and body caps), and a
test (``tests/security/test_fuzz.py``) fuzzes the running gateway against it and checks every
documented status code and content type against what comes back. It is what a client may rely
on: change the behaviour and this document together.

People's pages (sign-in, consent, account) are not described, except where a machine starts or
ends them (/authorize, /logout): they answer HTML for people, not an API.
"""

from __future__ import annotations

from policies import ACR_VALUES_SUPPORTED

OPENAPI_PATH = "/openapi.json"

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_HTML = "text/html"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict, headers: dict | None = None) -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}, **({"headers": headers} if headers
                                                                                   else {})}


def _page(description: str, headers: dict | None = None) -> dict:
    return {"description": description, "content": {_HTML: {"schema": {"type": "string"}}},
            **({"headers": headers} if headers else {})}


def _redirect(description: str) -> dict:
    return {"description": description, "headers": {"Location": {"$ref": "#/components/headers/Location"}}}


def _oauth_error(description: str, **kw) -> dict:
    return _json(description, _ref("OAuthError"), **kw)


_NO_STORE = {"Cache-Control": {"$ref": "#/components/headers/NoStore"}}
_BODY_REFUSALS_JSON = {
    "408": _oauth_error("The body did not arrive within IDGW_BODY_TIMEOUT seconds.", headers=_NO_STORE),
    "413": _oauth_error("The body is larger than the cap.", headers=_NO_STORE),
}


def _query(name: str, description: str, schema: dict, *, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def openapi_document(*, issuer: str, https: bool) -> dict:
    """The document for a gateway at ``issuer`` (``https``: cookies carry the ``__Host-`` prefix)."""
    # Imported here: these modules import idgw.oidc.routes, which serves this document.
    from idgw.httpio import NDID_CALLBACK_MAX as CALLBACK_MAX
    from idgw.httpio import PASSKEY_OPTIONS_MAX as MAX_OPTIONS_BODY
    from idgw.oidc.adapter import MAX_AUTHORIZE_BODY, MAX_QUERY
    from idgw.oidc.client_auth import CLIENT_ID_PATTERN, PRIVATE_MEMBERS
    from idgw.oidc.endpoints import MAX_BODY
    from idgw.oidc.keys import SUPPORTED_ALGS
    from idgw.oidc.models import CONFIDENTIAL_AUTH_METHODS, SCOPES_SUPPORTED, TOKEN_AUTH_METHODS
    from idgw.oidc.provider import ENDPOINT_PATHS
    from idgw.oidc.routes import PARAMETER_CAPS, SUPPORTED_PROMPTS

    paths = ENDPOINT_PATHS
    browser_cookie = ("__Host-" if https else "") + "idgw_browser"
    caps = PARAMETER_CAPS

    def capped(name: str, description: str, *, required: bool = False, **schema) -> dict:
        return _query(name, description, {"type": "string", "maxLength": caps[name], **schema}, required=required)

    authorize_parameters = [
        _query("response_type", "Only the authorization code flow.", {"type": "string", "enum": ["code"]},
               required=True),
        _query("client_id", "The registered client.", {"type": "string", "pattern": f"^{CLIENT_ID_PATTERN}$"},
               required=True),
        _query("redirect_uri", "A registered redirect URI, compared byte for byte.",
               {"type": "string", "format": "uri"}, required=True),
        capped("scope", f"Space-separated; must contain openid. Supported: {' '.join(SCOPES_SUPPORTED)}.",
               required=True),
        capped("state", "Returned unchanged with the response (not echoed when over the cap)."),
        capped("nonce", "Copied into the ID token."),
        capped("code_challenge", "PKCE (RFC 7636): BASE64URL(SHA-256(code_verifier)); required.",
               pattern="^[A-Za-z0-9._~-]{43,128}$", required=True),
        _query("code_challenge_method", "Only S256; plain is refused.", {"type": "string", "enum": ["S256"]},
               required=True),
        _query("response_mode", "Only query.", {"type": "string", "enum": ["query"]}),
        capped("prompt", "Space-separated: " + ", ".join(sorted(SUPPORTED_PROMPTS)) + "."),
        capped("max_age", "Seconds since the person last signed in (ASCII digits).", pattern="^[0-9]{1,9}$"),
        capped("login_hint", "The username to suggest on the sign-in page."),
        capped("ui_locales", "Space-separated language tags: th, en."),
        capped("acr_values", "Space-separated acr values (at most 20), in order of preference.",
               examples=[ACR_VALUES_SUPPORTED[0]]),
        capped("claims", "OIDC Core §5.5 claims request (JSON text), e.g. an essential acr or verified_claims.",
               contentMediaType=_JSON),
    ]
    authorize_form = {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in authorize_parameters},
        "required": [p["name"] for p in authorize_parameters if p["required"]],
    }
    authorize_responses = {
        "200": _page("A page for the person: sign in, a further factor, or consent.", headers=_NO_STORE),
        "302": _redirect("Back to the client's verified redirect_uri with code, state and iss (RFC 9207), or "
                         "with error, error_description, state and iss."),
        "400": _page("The client or redirect_uri cannot be verified, or the request cannot be read (a NUL, "
                     "not UTF-8, a repeated parameter, a query string over "
                     f"{MAX_QUERY} bytes): never redirected (RFC 6749 §4.1.2.1).", headers=_NO_STORE),
        "429": _page("Too many sign-ins started from this IP address (IDGW_RATE_PER_IP per IDGW_RATE_WINDOW).",
                     headers={**_NO_STORE, "Retry-After": {"required": True, "schema": {"type": "string",
                                                                                      "pattern": "^[0-9]+$"}}}),
    }

    client_auth_fields = {
        "client_id": {"type": "string", "description": "client_secret_post, private_key_jwt or none."},
        "client_secret": {"type": "string", "description": "client_secret_post."},
        "client_assertion_type": {"type": "string",
                                  "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
                                  "description": "private_key_jwt (RFC 7523)."},
        "client_assertion": {"type": "string", "description": "private_key_jwt: a JWT signed with one of "
                             "the client's registered keys."},
    }
    back_channel_security = [{"clientSecretBasic": []}, {}]

    def back_channel(summary: str, description: str, form: dict, ok: dict, methods: list[str]) -> dict:
        return {
            "summary": summary,
            "description": description + f" Client authentication: {', '.join(methods)} "
                                         "(one method and one client per request). The form is UTF-8 "
                                         f"{_FORM}, at most {MAX_BODY} bytes; a repeated parameter is invalid_request.",
            "security": back_channel_security,
            "requestBody": {"required": True, "content": {_FORM: {"schema": form}}},
            "responses": {
                "200": ok,
                "400": _oauth_error("invalid_request, invalid_client (no client, or an unknown one, named in the "
                                    "body), invalid_grant, "
                                    "unauthorized_client, unsupported_grant_type, invalid_scope, "
                                    "unsupported_token_type, invalid_target (token exchange).", headers=_NO_STORE),
                "401": _oauth_error("invalid_client when the Authorization header was used, or when no "
                                    "method authenticated a known client (RFC 6749 §5.2: the challenge names Basic).",
                                    headers={**_NO_STORE, "WWW-Authenticate": {
                                        "required": True, "schema": {"type": "string", "pattern": "^Basic "}}}),
                **_BODY_REFUSALS_JSON,
            },
        }

    token_common = {**client_auth_fields}
    token_form = {
        "oneOf": [
            {"type": "object", "title": "authorization_code",
             "properties": {"grant_type": {"const": "authorization_code"}, "code": {"type": "string"},
                            "redirect_uri": {"type": "string", "format": "uri"},
                            "code_verifier": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{43,128}$"},
                            **token_common},
             "required": ["grant_type", "code", "redirect_uri", "code_verifier"]},
            {"type": "object", "title": "refresh_token",
             "properties": {"grant_type": {"const": "refresh_token"}, "refresh_token": {"type": "string"},
                            "scope": {"type": "string", "description": "At most the scope granted."},
                            **token_common},
             "required": ["grant_type", "refresh_token"]},
            {"type": "object", "title": "token_exchange",
             "description": "RFC 8693 for a registered back end: a person's access token issued to this client, "
                            "exchanged for a token acting for the principal of a delegation they hold at "
                            "`audience` (docs/delegation.md).",
             "properties": {"grant_type": {"const": "urn:ietf:params:oauth:grant-type:token-exchange"},
                            "subject_token": {"type": "string"},
                            "subject_token_type": {"const": "urn:ietf:params:oauth:token-type:access_token"},
                            "audience": {"type": "string", "description": "The client_id of the e-service."},
                            "requested_token_type": {"const": "urn:ietf:params:oauth:token-type:access_token"},
                            "delegation_act": {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{0,63}$"},
                            "delegation_id": {"type": "string"},
                            "scope": {"type": "string", "description": "At most the subject token's scope."},
                            **token_common},
             "required": ["grant_type", "subject_token", "subject_token_type", "audience"]},
        ],
    }
    token_hint_form = {
        "type": "object",
        "properties": {"token": {"type": "string"},
                       "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
                       **client_auth_fields},
        "required": ["token"],
    }

    bearer_error_headers = {**_NO_STORE, "WWW-Authenticate": {
        "required": True, "description": "RFC 6750 §3: Bearer error=\"...\", error_description=\"...\".",
        "schema": {"type": "string", "pattern": "^Bearer "}}}
    userinfo = {
        "summary": "Claims about the signed-in person (OIDC Core §5.3)",
        "description": "The access token in the Authorization header (Bearer); only what the person agreed "
                       "to release for this grant.",
        "security": [{"bearer": []}],
        "responses": {
            "200": _json("The claims.", _ref("UserInfo"), headers=_NO_STORE),
            "400": _oauth_error("The Authorization header is not a Bearer token (invalid_request), or the "
                                "request cannot be read."),
            "401": _oauth_error("No token (invalid_request), or a token that is invalid, expired or revoked "
                                "(invalid_token).", headers=bearer_error_headers),
        },
    }

    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "idgw machine endpoints",
            "version": "1",
            "description": "The endpoints e-services, platforms and scripts call: OpenID Connect discovery, "
                           "JWKS, authorization (the browser's entry and exit), token, introspection (RFC 7662), "
                           "revocation (RFC 7009), userinfo, RP-initiated logout, the passkey options the "
                           "gateway's own pages fetch, and the NDID platform's callback. Back-channel endpoints "
                           "answer JSON only, never HTML; endpoints a browser visits answer a page or a redirect.",
        },
        "servers": [{"url": issuer}],
        "paths": {
            "/.well-known/openid-configuration": {"get": {
                "summary": "OpenID Connect Discovery 1.0 metadata",
                "responses": {"200": _json("The metadata.", _ref("Discovery"), headers={"Cache-Control": {
                    "required": True, "schema": {"type": "string", "pattern": "^public, max-age=[0-9]+$"}}})},
            }},
            paths["jwks"]: {"get": {
                "summary": "The public signing keys (current and those still verifying issued tokens)",
                "responses": {"200": {"description": "The JWK set.", "content": {
                    "application/jwk-set+json": {"schema": _ref("JWKSet")}}}},
            }},
            OPENAPI_PATH: {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {_JSON: {"schema": {
                    "type": "object", "required": ["openapi", "paths"]}}}}},
            }},
            paths["authorization"]: {
                "get": {"summary": "Authorization request (the browser is sent here)",
                        "parameters": authorize_parameters, "responses": authorize_responses},
                "post": {"summary": "Authorization request as a form POST (OIDC Core §3.1.2.1)",
                         "description": f"The same parameters in a {_FORM} body of at most {MAX_AUTHORIZE_BODY} "
                                        "bytes.",
                         "requestBody": {"required": True, "content": {_FORM: {"schema": authorize_form}}},
                         "responses": {**authorize_responses, "413": _page("The body is larger than the cap.")}},
            },
            paths["token"]: {"post": back_channel(
                "Token request", "authorization_code (PKCE S256 required) and refresh_token (rotated on every "
                "use; a rotated one revokes its family) grants.", token_form,
                _json("Tokens (RFC 6749 §5.1; id_token for the authorization_code grant, refresh_token "
                      "with offline_access).", _ref("TokenResponse"), headers=_NO_STORE),
                TOKEN_AUTH_METHODS)},
            paths["introspection"]: {"post": back_channel(
                "Token introspection (RFC 7662)", "Only tokens issued to the calling client are active.",
                token_hint_form, _json("The token's state.", _ref("Introspection"), headers=_NO_STORE),
                CONFIDENTIAL_AUTH_METHODS)},
            paths["revocation"]: {"post": back_channel(
                "Token revocation (RFC 7009)", "Revoking a refresh token revokes its grant's access tokens. "
                "Unknown tokens and other clients' tokens get the same 200.", token_hint_form,
                _json("Revoked (or nothing to revoke).", {"type": "object", "maxProperties": 0},
                      headers=_NO_STORE), CONFIDENTIAL_AUTH_METHODS)},
            paths["userinfo"]: {"get": {**userinfo, "operationId": "userinfo_get"},
                                "post": {**userinfo, "operationId": "userinfo_post"}},
            paths["end_session"]: {"get": {
                "summary": "RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)",
                "parameters": [
                    _query("id_token_hint", "An ID token this gateway issued to the client (expired ones too).",
                           {"type": "string"}),
                    _query("post_logout_redirect_uri", "A registered post-logout redirect URI (exact match).",
                           {"type": "string", "format": "uri"}),
                    _query("state", "Returned to post_logout_redirect_uri.", {"type": "string"}),
                    _query("client_id", "The client, when there is no id_token_hint.", {"type": "string"}),
                    _query("ui_locales", "th or en.", {"type": "string"}),
                ],
                "responses": {
                    "200": _page("A page for the person: confirm signing out, or signed out.", headers=_NO_STORE),
                    "302": _redirect("Signed out; back to post_logout_redirect_uri with state."),
                    "400": _page("An invalid id_token_hint, an unregistered post_logout_redirect_uri, or a "
                                 "request that cannot be read.", headers=_NO_STORE),
                },
            }},
            "/webauthn/options": {"post": {
                "summary": "WebAuthn options for the gateway's own pages (passkey registration, sign-in, step-up)",
                "parameters": [
                    {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"},
                     "description": "The page's options token, bound to the browser cookie."},
                    {"name": browser_cookie, "in": "cookie", "required": False, "schema": {"type": "string"},
                     "description": "The browser id the gateway issued."},
                ],
                "requestBody": {"required": True, "content": {_JSON: {"schema": {
                    "type": "object", "properties": {"purpose": {"type": "string",
                                                                 "enum": ["register", "login", "stepup"]}},
                    "required": ["purpose"]}}},
                    "description": f"At most {MAX_OPTIONS_BODY} bytes, nested at most 4 levels."},
                "responses": {
                    "200": _json("PublicKeyCredentialCreationOptions (register) or "
                                 "PublicKeyCredentialRequestOptions (login, stepup), as JSON (WebAuthn L3).",
                                 {"type": "object", "required": ["challenge"]}, headers=_NO_STORE),
                    "400": _json("Not JSON, too deep, or an unknown purpose.", _ref("SimpleError")),
                    "401": _json("register and stepup need a (fresh) session.", _ref("SimpleError")),
                    "403": _json("No browser cookie, or the CSRF token does not match it.", _ref("SimpleError")),
                    "408": _json("The body did not arrive in time.", _ref("SimpleError")),
                    "413": _json("The body is larger than the cap.", _ref("SimpleError")),
                    "429": _json("Too many options from this IP address.", _ref("SimpleError"), headers={
                        "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}),
                },
            }},
            "/upstream/{name}/ndid-callback/{secret}": {"post": {
                "summary": "The NDID platform's callback for one sign-in attempt",
                "description": "A hint only: the gateway then reads the request from its RP node. The URL's "
                               "secret is per attempt.",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "The configured NDID upstream."},
                    {"name": "secret", "in": "path", "required": True,
                     "schema": {"type": "string", "minLength": 20, "maxLength": 64}},
                ],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("NdidCallback")}},
                                "description": f"At most {CALLBACK_MAX} bytes."},
                "responses": {
                    "204": {"description": "Noted."},
                    "400": _oauth_error("Not JSON, or a callback for another request (the error names why).",
                                        headers=_NO_STORE),
                    "404": _oauth_error("No such NDID upstream.", headers=_NO_STORE),
                    "408": _oauth_error("The body did not arrive in time.", headers=_NO_STORE),
                    "409": _oauth_error("No attempt for this URL (yet): retry.", headers=_NO_STORE),
                    "413": _oauth_error("The body is larger than the cap.", headers=_NO_STORE),
                },
            }},
        },
        "components": {
            "securitySchemes": {
                "clientSecretBasic": {"type": "http", "scheme": "basic",
                                      "description": "client_secret_basic (RFC 6749 §2.3.1): the form-encoded "
                                                     "client_id and client_secret."},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RFC 9068, typ at+jwt)"},
            },
            "headers": {
                "NoStore": {"required": True, "schema": {"type": "string", "const": "no-store"}},
                "Location": {"required": True, "schema": {"type": "string"}},
            },
            "schemas": {
                "OAuthError": {"type": "object", "required": ["error"],
                               "properties": {"error": {"type": "string"}, "error_description": {"type": "string"},
                                              "error_uri": {"type": "string"}}},
                "SimpleError": {"type": "object", "required": ["error"],
                                "properties": {"error": {"type": "string"}}},
                "TokenResponse": {
                    "type": "object", "required": ["access_token", "token_type", "expires_in", "scope"],
                    "properties": {"access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
                                   "expires_in": {"type": "integer"}, "scope": {"type": "string"},
                                   "id_token": {"type": "string"}, "refresh_token": {"type": "string"},
                                   "issued_token_type": {"type": "string"}}},
                "Introspection": {
                    "type": "object", "required": ["active"],
                    "properties": {"active": {"type": "boolean"}, "client_id": {"type": "string"},
                                   "scope": {"type": "string"}, "sub": {"type": "string"},
                                   "token_type": {"enum": ["Bearer", "refresh_token"]},
                                   "exp": {"type": "integer"}, "iat": {"type": "integer"},
                                   "iss": {"const": issuer}, "acr": {"type": "string"},
                                   "amr": {"type": "array", "items": {"type": "string"}}}},
                "UserInfo": {"type": "object", "required": ["sub"], "properties": {"sub": {"type": "string"}}},
                "Discovery": {
                    "type": "object",
                    "required": ["issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                                 "jwks_uri", "scopes_supported", "response_types_supported",
                                 "subject_types_supported", "id_token_signing_alg_values_supported"],
                    "properties": {
                        "issuer": {"const": issuer},
                        "authorization_endpoint": {"const": issuer + paths["authorization"]},
                        "token_endpoint": {"const": issuer + paths["token"]},
                        "userinfo_endpoint": {"const": issuer + paths["userinfo"]},
                        "jwks_uri": {"const": issuer + paths["jwks"]},
                        "introspection_endpoint": {"const": issuer + paths["introspection"]},
                        "revocation_endpoint": {"const": issuer + paths["revocation"]},
                        "end_session_endpoint": {"const": issuer + paths["end_session"]},
                        "scopes_supported": {"const": list(SCOPES_SUPPORTED)},
                        "response_types_supported": {"const": ["code"]},
                        "token_endpoint_auth_methods_supported": {"const": list(TOKEN_AUTH_METHODS)},
                        "introspection_endpoint_auth_methods_supported": {"const": list(CONFIDENTIAL_AUTH_METHODS)},
                        "revocation_endpoint_auth_methods_supported": {"const": list(CONFIDENTIAL_AUTH_METHODS)},
                        "id_token_signing_alg_values_supported": {"const": list(SUPPORTED_ALGS)},
                        "code_challenge_methods_supported": {"const": ["S256"]},
                        "acr_values_supported": {"const": list(ACR_VALUES_SUPPORTED)},
                        "prompt_values_supported": {"const": sorted(SUPPORTED_PROMPTS)},
                    }},
                "JWKSet": {
                    "type": "object", "required": ["keys"],
                    "properties": {"keys": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["kty", "kid"],
                        "properties": {"kty": {"enum": ["EC", "RSA"]}, "kid": {"type": "string"},
                                       "alg": {"enum": list(SUPPORTED_ALGS)}},
                        # public keys only
                        "not": {"anyOf": [{"required": [m]} for m in PRIVATE_MEMBERS]},
                    }}}},
                "NdidCallback": {
                    "type": "object", "required": ["request_id"],
                    "description": "An NDID RP callback (rp_callback.yaml); only request_id, reference_id, type "
                                   "and status are read.",
                    "properties": {"node_id": {"type": "string"}, "type": {"type": "string"},
                                   "request_id": {"type": "string"}, "reference_id": {"type": "string"},
                                   "status": {"type": "string"}}},
            },
        },
    }
    return document
