"""HTTP endpoints of the OpenID provider: discovery, JWKS, authorize, token, userinfo,
introspection, revocation. RP-initiated logout and the interaction pages live in ``idgw.web``."""

from __future__ import annotations

import functools
import json
import re
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from idgw.assurance import current_policy
from idgw.depends import gateway_of
from idgw.oidc.adapter import AdaptedRequest, in_transaction
from idgw.oidc.claims import ClaimsRequestError, parse_claims_parameter, requested_acr
from idgw.oidc.client_auth import CLIENT_ASSERTION_ALGS, plausible_client_id
from idgw.oidc.context import current_db
from idgw.oidc.keys import SUPPORTED_ALGS
from idgw.oidc.models import CONFIDENTIAL_AUTH_METHODS, SCOPES_SUPPORTED, TOKEN_AUTH_METHODS, GrantSubject
from idgw.oidc.openapi import OPENAPI_PATH
from idgw.oidc.provider import ENDPOINT_PATHS
from idgw.release import SCOPE_CLAIMS, TRUST_FRAMEWORK, VERIFIED_CLAIM_NAMES
from idgw.security import sha256_hex
from idgw.storage.models import Account, Client, Token
from policies import ACR_VALUES_SUPPORTED, LevelError, acr_alternatives

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SUPPORTED_PROMPTS = {"none", "login", "consent"}


def discovery_document(issuer: str) -> dict:
    """OpenID Connect Discovery 1.0 §3 / RFC 8414 metadata."""
    ep = {name: issuer + path for name, path in ENDPOINT_PATHS.items()}
    return {
        "issuer": issuer,
        "authorization_endpoint": ep["authorization"],
        "token_endpoint": ep["token"],
        "userinfo_endpoint": ep["userinfo"],
        "jwks_uri": ep["jwks"],
        "introspection_endpoint": ep["introspection"],
        "revocation_endpoint": ep["revocation"],
        "end_session_endpoint": ep["end_session"],
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token",
                                  "urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": sorted({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                                    "at_hash", "ial", "aal", "verified_claims"}
                                   | {c for v in SCOPE_CLAIMS.values() for c in v}),
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        # OpenID Connect for Identity Assurance 1.0 §8
        "verified_claims_supported": True,
        "trust_frameworks_supported": [TRUST_FRAMEWORK],
        "evidence_supported": ["electronic_record"],
        "claims_in_verified_claims_supported": VERIFIED_CLAIM_NAMES,
        "prompt_values_supported": sorted(SUPPORTED_PROMPTS),
        "ui_locales_supported": ["th", "en"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        # OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens always carry sid.
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


class AuthorizeError(Exception):
    """An authorization request error; ``redirect_uri`` is set only once it has been verified."""

    def __init__(self, error: str, description: str, *, redirect_uri: str | None = None,
                 state: str | None = None, page_key: str = "err_invalid_request") -> None:
        super().__init__(description)
        self.error, self.description, self.redirect_uri, self.state = error, description, redirect_uri, state
        self.page_key = page_key


def _page_key_for(error: OAuth2Error) -> str:
    if error.error == "invalid_client":
        return "err_unknown_client"
    if "redirect" in (error.description or "").lower():
        return "err_redirect_uri"
    return "err_invalid_request"


def _disabled(client_id) -> bool:
    """Whether ``client_id`` names a registered service that an admin has disabled."""
    if not plausible_client_id(client_id):
        return False
    client = current_db.get().get(Client, client_id)
    return client is not None and client.disabled_at is not None


def validate_authorization_request(gw, areq: AdaptedRequest, *, has_session: bool) -> dict:
    """Validate with Authlib (client, redirect URI, response type, PKCE, nonce, scope), then our
    own rules. Runs with ``current_db`` set. Returns the parameters to keep for the interaction
    and what the client asked for (acr_values, essential acr, max_age, claims)."""
    provider = gw.provider
    data = areq.payload.data
    try:
        grant = provider.get_consent_grant(areq, end_user=True if has_session else None)
    except OAuth2Error as err:
        page_key = _page_key_for(err)
        if err.error == "invalid_client" and _disabled(data.get("client_id")):
            page_key = "err_service_disabled"  # Provider.query_client: a page, never a redirect
        raise AuthorizeError(err.error, err.description or err.error, redirect_uri=err.redirect_uri,
                             state=data.get("state"), page_key=page_key) from None
    except ValueError:
        # Authlib builds its error from the request (e.g. an unregistered redirect_uri or a
        # response_type with '"' or non-ASCII in it) and then refuses its own description
        # (RFC 6749 §5.2's character set): it was a 500. The client is not verified: a page.
        raise AuthorizeError("invalid_request", "The request has characters that are not allowed") from None
    redirect_uri = data["redirect_uri"]
    state = data.get("state")

    def refuse(error: str, description: str):
        return AuthorizeError(error, description, redirect_uri=redirect_uri, state=state)

    # Security review item 15: nothing is kept for a request beyond these sizes.
    for name, cap in PARAMETER_CAPS.items():
        if len(data.get(name) or "") > cap:
            if name == "state":
                state = None  # not echoed back either
            raise refuse("invalid_request", f"{name} is longer than {cap} characters")

    if "request" in data:
        raise refuse("request_not_supported", "Request objects are not supported")
    if "request_uri" in data:
        raise refuse("request_uri_not_supported", "request_uri is not supported")
    if data.get("response_mode", "query") != "query":
        raise refuse("invalid_request", "Only response_mode=query is supported")
    scopes = (data.get("scope") or "").split()
    if "openid" not in scopes:
        raise refuse("invalid_scope", "The openid scope is required")
    prompts = set((data.get("prompt") or "").split())
    if not prompts <= SUPPORTED_PROMPTS:
        raise refuse("invalid_request", f"Unsupported prompt value(s): {' '.join(sorted(prompts - SUPPORTED_PROMPTS))}")
    # ASCII digits only (str.isdigit also accepts "²" and Thai digits, which int() then refuses).
    if "max_age" in data and not re.fullmatch(r"[0-9]{1,9}", data["max_age"]):
        raise refuse("invalid_request", "max_age must be a non-negative integer number of seconds")
    try:
        claims = parse_claims_parameter(data.get("claims"))
        acr_values = (data.get("acr_values") or "").split()
        if len(acr_values) > 20:
            raise LevelError("too many acr_values")
        claimed, essential = requested_acr(claims)
        # OIDC Core §5.5.1.1: an essential acr with values must be answered with one of them (or
        # fail); acr_values (§3.1.2.1) are alternatives in order of preference. Either way the
        # sign-in must satisfy one of them here (the floors of the service apply besides).
        alternatives = acr_alternatives(claimed if essential else acr_values)
        if essential and not alternatives:
            raise LevelError("an essential acr must name urn:idgw:ial:<IAL>, urn:idgw:aal:<AAL> or "
                             "urn:idgw:ial:<IAL>:aal:<AAL>")
        preferred = [] if essential else [a.value for a in acr_alternatives(claimed)]
    except (ClaimsRequestError, LevelError) as exc:
        raise refuse("invalid_request", str(exc)) from None
    # Delegation (docs/delegation.md): the act the person is about to do, from the service's catalogue.
    delegation_act = data.get("delegation_act")
    if delegation_act is not None and not re.fullmatch(r"[a-z][a-z0-9_.-]{0,63}", delegation_act):
        raise refuse("invalid_request", "delegation_act must be an act code of the service's catalogue")
    policy = current_policy(current_db.get(), grant.client.get_client_id())
    allowed = grant.client.get_allowed_scope(" ".join(scopes)).split()
    if "citizen_id" in allowed and not (policy and policy.release_citizen_id):
        # Released only where the service's policy records a legal basis (domain brief §4).
        allowed.remove("citizen_id")
    params = {k: v for k, v in data.items() if k in _KEPT_PARAMS}
    params["scope"] = " ".join(allowed)
    requested = {"acr": [a.value for a in alternatives], "acr_preferred": preferred, "essential": bool(essential),
                 "max_age": int(data["max_age"]) if "max_age" in data else None, "claims": claims,
                 "delegation_act": delegation_act}
    return params, requested


#: The longest value kept for each authorization request parameter (the whole query string is
#: capped by idgw.oidc.adapter; redirect_uri and client_id must match a registration anyway).
PARAMETER_CAPS = {"state": 1024, "nonce": 1024, "login_hint": 256, "ui_locales": 64, "acr_values": 1024,
                  "prompt": 64, "scope": 1024, "claims": 4096, "code_challenge": 128, "max_age": 9}

_KEPT_PARAMS = {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                "code_challenge_method", "prompt", "max_age", "login_hint", "ui_locales", "acr_values"}


def issue_code(gw, *, params: dict, subject: GrantSubject) -> str:
    """Issue the authorization code for a completed interaction. Returns the redirect Location
    (code, state, iss). Runs with ``current_db`` set."""
    query = list(params.items())
    areq = AdaptedRequest(method="GET", uri=gw.settings.issuer + "/authorize?" + urlencode(query),
                          headers={}, query=query, form=[])
    grant = gw.provider.get_consent_grant(areq, end_user=subject)
    status, _body, headers = gw.provider.create_authorization_response(areq, grant_user=subject, grant=grant)
    # RFC 9207 §2: the authorization response names the issuer (mix-up defence).
    return add_params_to_uri(dict(headers)["Location"], [("iss", gw.settings.issuer)])


router = APIRouter()


@functools.lru_cache(maxsize=4)
def _discovery_json(issuer: str) -> bytes:
    return json.dumps(discovery_document(issuer), separators=(",", ":")).encode()


@functools.lru_cache(maxsize=4)
def _openapi_json(issuer: str, https: bool) -> bytes:
    from idgw.oidc.openapi import openapi_document  # it imports this module's constants

    return json.dumps(openapi_document(issuer=issuer, https=https), ensure_ascii=False,
                      separators=(",", ":")).encode()


@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def discovery(gw=Depends(gateway_of)) -> Response:
    # (Answered from memory by idgw.app.WellKnownDocuments after the first request.)
    return Response(_discovery_json(gw.settings.issuer), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/jwks.json", include_in_schema=False)
async def jwks(gw=Depends(gateway_of)) -> Response:
    gw.keys.refresh()
    return Response(gw.keys.jwks_json, media_type="application/jwk-set+json",
                    headers={"Cache-Control": "public, max-age=60"})


@router.get(OPENAPI_PATH, include_in_schema=False)
async def openapi(gw=Depends(gateway_of)) -> Response:
    # The machine endpoints' contract (idgw.oidc.openapi), checked against behaviour by tests.
    return Response(_openapi_json(gw.settings.issuer, gw.settings.cookie_secure), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=60"})


@router.api_route("/userinfo", methods=["GET", "POST"], include_in_schema=False)
async def userinfo(request: Request, gw=Depends(gateway_of)) -> Response:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return _bearer_error("invalid_request", "Send the access token as a Bearer authorization header",
                             status=400 if auth else 401)
    access_token = value.strip()
    try:
        claims = await run_in_threadpool(gw.provider.verify_own_jwt, access_token, typ="at+jwt")
    except ValueError as exc:
        return _bearer_error("invalid_token", f"The access token is invalid: {exc}")
    result = await in_transaction(gw.sessionmaker, gw.client_ip(request), userinfo_claims, gw, access_token, claims)
    if result is None:
        return _bearer_error("invalid_token", "The access token is revoked or unknown")
    return JSONResponse(result, headers=NO_STORE)


def userinfo_claims(gw, access_token: str, claims: dict) -> dict | None:
    """What userinfo answers for a verified access token (``claims``: its payload): the claims the
    person agreed to release to userinfo for this grant, nothing more; None when the token is
    revoked, expired or unknown, its client disabled, or the delegation it acts under ended."""
    db = current_db.get()
    row = db.scalar(select(Token).where(Token.jti == claims.get("jti")))
    if row is None or row.kind != "access" or row.revoked_at is not None \
            or row.token_hash != sha256_hex(access_token) or row.expires_at <= gw.clock.now():
        return None
    client = db.get(Client, row.client_id)
    if client is None or client.disabled_at is not None or db.get(Account, row.account_id) is None:
        return None
    return gw.provider.identity(client=client, subject=GrantSubject.of(row), target="userinfo", scope=row.scope)


def _bearer_error(error: str, description: str, *, status: int = 401) -> Response:
    # RFC 6750 §3: the error goes in WWW-Authenticate.
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"WWW-Authenticate": f'Bearer error="{error}", error_description="{description}"',
                                 **NO_STORE})
