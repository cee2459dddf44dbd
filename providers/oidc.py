"""Generic OpenID Connect upstream (ThaiD-style): authorization code flow with PKCE, brokered.

``begin`` builds the authorization URL (state, nonce, PKCE S256 with Authlib's helpers; plain httpx for
the calls, because Authlib's httpx integration is deprecated in favour of httpx2) and
returns the state the gateway must keep; ``complete`` checks the callback, exchanges the code with
HTTP Basic client authentication (domain brief §3: ThaiD's token endpoint), validates the ID token
(joserfc: signature against the upstream JWKS by kid, refetching once on an unknown kid; iss, aud,
azp, exp, iat, nonce with a bounded clock skew), fetches userinfo, maps the claims (``pid`` is the
citizen ID, never ``sub``), checks the citizen-ID checksum and maps the ``ial`` claim to a Thai IAL.
The AAL is configuration (``trusted_aal``) because ThaiD publishes none. Every failure is an
``UpstreamError``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from providers._http import http_errors
from providers.base import (
    AAL_LEVELS,
    COMMON_FIELDS,
    IAL_LEVELS,
    NAME_PATTERN,
    ConfigReader,
    Redirect,
    UpstreamError,
    UpstreamIdentity,
    level_at_least,
    normalise_level,
    valid_citizen_id,
)

# Domain brief §3: ThaiD's scopes are named after its claims; `given_name`/`family_name` are the
# Thai name parts and the `_en` claims the English ones.
DEFAULT_SCOPE = "openid pid given_name family_name given_name_en family_name_en birthdate ial"
DEFAULT_CLAIM_MAPPING = {
    "citizen_id": "pid",
    "th_given_name": "given_name",
    "th_family_name": "family_name",
    "given_name": "given_name_en",
    "family_name": "family_name_en",
    "birthdate": "birthdate",
}
NORMALISED_CLAIMS = tuple(DEFAULT_CLAIM_MAPPING)
# Asymmetric algorithms only: `none` and HMAC (keyed with the client secret) are never accepted.
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_TTL = 3600       # seconds a fetched discovery document / JWKS stays fresh
FLOW_LIFETIME = 1800       # a begin() state older than this is refused at the callback
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

FIELDS = COMMON_FIELDS | {"issuer", "client_id", "client_secret", "scope", "claim_mapping", "ial_mapping",
                          "trusted_aal", "acr_values_map", "timeout_seconds", "max_clock_skew", "amr", "allow_http",
                          "max_ial"}


class OIDCUpstream:
    """One configured OIDC upstream. Thread-safe; construction does no I/O (discovery happens on
    first use and is cached for ``DISCOVERY_TTL`` seconds)."""

    type = "oidc"
    mode = "redirect"

    def __init__(self, *, config: dict, where: str = "provider", clock: Callable[[], float] = time.time,
                 transport: httpx.BaseTransport | None = None) -> None:
        read = ConfigReader(config, where=where, allowed=FIELDS)
        self.name = read.string("name", pattern=NAME_PATTERN)
        self.display_name = read.display_name()
        self.issuer = read.string("issuer").rstrip("/")
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise read.fail("issuer", "must be an absolute https URL without query or fragment")
        # OIDC Core §16.1/§3.1.2.1: TLS is required; plain HTTP only on loopback or when explicitly allowed
        # (the simulators in a private demo network).
        allow_http = read.boolean("allow_http", default=False)
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not allow_http:
            raise read.fail("issuer", "must use https (set allow_http for a private demo network)")
        self.client_id = read.string("client_id")
        self.client_secret = read.string("client_secret")
        self.scope = read.string("scope", default=DEFAULT_SCOPE)
        if "openid" not in self.scope.split():
            raise read.fail("scope", "must include openid")
        mapping = read.string_map("claim_mapping", default={})
        for key, claim in mapping.items():
            if key not in NORMALISED_CLAIMS:
                raise read.fail(f"claim_mapping.{key}", f"unknown; expected one of {', '.join(NORMALISED_CLAIMS)}")
            # Domain brief §3: the citizen ID is the `pid` claim, never the upstream's `sub`.
            if key == "citizen_id" and claim == "sub":
                raise read.fail("claim_mapping.citizen_id", "must not be sub (use the upstream's citizen-ID claim)")
        self.claim_mapping = {**DEFAULT_CLAIM_MAPPING, **mapping}
        ial_mapping = read.string_map("ial_mapping", default={level: level for level in IAL_LEVELS})
        for upstream_value, ial in ial_mapping.items():
            if ial not in IAL_LEVELS:
                raise read.fail(f"ial_mapping.{upstream_value}", f"{ial!r} is not one of {', '.join(IAL_LEVELS)}")
        self.ial_mapping = ial_mapping
        # Domain brief §3: ThaiD publishes no AAL, so the operator must say what it is trusted for.
        self.trusted_aal = read.level("trusted_aal", AAL_LEVELS)
        # The highest IAL this upstream is expected to assert (ThaiD: 2.3, domain brief §3); used to
        # decide whether to offer it for a service's floors. Default: the highest its mapping yields.
        highest = max(ial_mapping.values(), key=IAL_LEVELS.index)
        self.max_ial = read.level("max_ial", IAL_LEVELS, default=highest)
        self.acr_values_map = read.string_map("acr_values_map", default={})
        self.timeout = read.number("timeout_seconds", default=10, low=0.1, high=120)
        self.max_clock_skew = read.number("max_clock_skew", default=60, low=0, high=300, integer=True)
        default_amr = ["mfa"] if level_at_least(self.trusted_aal, "2.1", AAL_LEVELS) else []
        self.amr = tuple(read.string_list("amr", default=default_amr))
        self._clock = clock
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def __repr__(self) -> str:  # never show the client secret
        return f"OIDCUpstream(name={self.name!r}, issuer={self.issuer!r}, client_id={self.client_id!r})"

    # -- public contract ---------------------------------------------------------------------------------

    def levels_offered(self) -> tuple[str, str]:
        """(highest IAL, AAL) a sign-in here can give: ``max_ial`` and ``trusted_aal``."""
        return self.max_ial, self.trusted_aal

    def begin(self, *, redirect_uri: str, acr_values: list[str] | None = None) -> Redirect:
        """Start a login: returns the upstream authorization URL and the state to keep server-side
        (``state``, ``nonce``, ``code_verifier``, ``redirect_uri``, ``created_at``; JSON-serialisable).

        ``acr_values`` are the gateway's values; only those listed in ``acr_values_map`` are forwarded,
        translated (an upstream that does not understand ours must not see them).
        """
        metadata = self._discovery()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: 43-128 characters
        extra: dict[str, str] = {}
        forwarded = [self.acr_values_map[v] for v in (acr_values or []) if v in self.acr_values_map]
        if forwarded:
            extra["acr_values"] = " ".join(dict.fromkeys(forwarded))
        # OIDC Core §3.1.2.1 with PKCE S256 (RFC 7636 §4.2); the verifier stays in the server-side state.
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                  "scope": self.scope, "state": state, "nonce": nonce,
                  "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256", **extra}
        url = add_params_to_uri(metadata["authorization_endpoint"], list(params.items()))
        return Redirect(url=url, state={
            "provider": self.name, "state": state, "nonce": nonce, "code_verifier": verifier,
            "redirect_uri": redirect_uri, "created_at": int(self._clock()), "acr_values": forwarded,
        })

    def complete(self, *, state: dict, params: dict, redirect_uri: str) -> UpstreamIdentity:
        """Finish a login from the callback query ``params`` and the ``state`` kept since ``begin``.

        Returns the verified identity or raises ``UpstreamError`` (state_mismatch, invalid_issuer,
        rejected, upstream_error, upstream_unreachable, upstream_timeout, invalid_signature,
        nonce_mismatch, invalid_citizen_id, ial_too_low).
        """
        now = int(self._clock())
        self._check_callback(state=state, params=params, redirect_uri=redirect_uri, now=now)
        metadata = self._discovery()
        token = self._exchange_code(metadata, code=params["code"], verifier=state["code_verifier"],
                                    redirect_uri=redirect_uri)
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise UpstreamError("upstream_error", "token response without id_token")
        id_claims = self._validate_id_token(id_token, nonce=state["nonce"], now=now)
        userinfo = self._userinfo(metadata, token, subject=id_claims["sub"])
        return self._identity(id_claims, userinfo, now=now)

    # -- callback --------------------------------------------------------------------------------------

    def _check_callback(self, *, state: dict, params: dict, redirect_uri: str, now: int) -> None:
        expected = state.get("state") if isinstance(state, dict) else None
        got = params.get("state")
        # RFC 6749 §10.12 / OIDC Core §3.1.2.7: the answer must belong to the login this browser started.
        if (not isinstance(expected, str) or not isinstance(got, str)
                or not hmac.compare_digest(expected.encode(), got.encode())):
            raise UpstreamError("state_mismatch", "callback state does not match the stored state")
        if state.get("provider") != self.name:
            raise UpstreamError("state_mismatch", f"stored state belongs to provider {state.get('provider')!r}")
        if state.get("redirect_uri") != redirect_uri:
            raise UpstreamError("state_mismatch", "redirect_uri differs from the one used at begin")
        if not isinstance(state.get("created_at"), int) or now - state["created_at"] > FLOW_LIFETIME:
            raise UpstreamError("state_mismatch", "login attempt expired")
        # RFC 9207: when the upstream names itself in the response it must be the configured issuer.
        if "iss" in params and params["iss"] != self.issuer:
            raise UpstreamError("invalid_issuer", "authorization response iss differs from the configured issuer")
        if "error" in params:
            error = str(params.get("error"))[:64]
            description = str(params.get("error_description") or "")[:200]
            # access_denied: the citizen cancelled or declined at the upstream (RFC 6749 §4.1.2.1).
            code = "rejected" if error == "access_denied" else "upstream_error"
            raise UpstreamError(code, f"authorization error {error}: {description}".rstrip(": "))
        if not isinstance(params.get("code"), str) or not params["code"]:
            raise UpstreamError("upstream_error", "authorization response without code")

    # -- HTTP --------------------------------------------------------------------------------------------

    def _get_json(self, url: str, what: str, headers: dict | None = None) -> dict:
        with http_errors(what), httpx.Client(timeout=self.timeout, transport=self._transport) as http:
            response = http.get(url, headers={"Accept": "application/json", **(headers or {})})
            response.raise_for_status()
            document = response.json()
        if not isinstance(document, dict):
            raise UpstreamError("upstream_error", f"{what}: not a JSON object")
        return document

    def _discovery(self) -> dict:
        """The upstream's discovery document (OIDC Discovery §4), cached; its issuer must be ours."""
        with self._lock:
            if self._metadata is not None and self._clock() - self._metadata_at < DISCOVERY_TTL:
                return self._metadata
        metadata = self._get_json(self.issuer + "/.well-known/openid-configuration", "discovery")
        # OIDC Discovery §4.3: the issuer in the document must equal the one we asked.
        if metadata.get("issuer") != self.issuer:
            raise UpstreamError("invalid_issuer", "discovery document names another issuer")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(field), str):
                raise UpstreamError("upstream_error", f"discovery document without {field}")
        methods = metadata.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise UpstreamError("bad_configuration", "upstream does not support PKCE S256")
        with self._lock:
            self._metadata, self._metadata_at = metadata, self._clock()
        return metadata

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            if not refresh and self._keys is not None and self._clock() - self._keys_at < DISCOVERY_TTL:
                return self._keys
        document = self._get_json(self._discovery()["jwks_uri"], "jwks")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamError("upstream_error", "jwks: no usable keys") from exc
        with self._lock:
            self._keys, self._keys_at = keys, self._clock()
        return keys

    def _exchange_code(self, metadata: dict, *, code: str, verifier: str, redirect_uri: str) -> dict:
        """RFC 6749 §4.1.3 with the PKCE verifier; domain brief §3: HTTP Basic client authentication
        (RFC 6749 §2.3.1: id and secret form-urlencoded before the Basic encoding)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier}
        auth = httpx.BasicAuth(quote(self.client_id, safe=""), quote(self.client_secret, safe=""))
        with http_errors("token"), httpx.Client(timeout=self.timeout, transport=self._transport) as http:
            response = http.post(metadata["token_endpoint"], data=form, auth=auth,
                                 headers={"Accept": "application/json"})
            try:
                token = response.json()
            except ValueError:
                token = None
            if response.status_code != 200 or not isinstance(token, dict):
                error = token.get("error") if isinstance(token, dict) else None
                raise UpstreamError("upstream_error", f"token: HTTP {response.status_code} {str(error or '')[:64]}"
                                    .rstrip())
        if "error" in token or not isinstance(token.get("access_token"), str):
            raise UpstreamError("upstream_error", f"token: {str(token.get('error', 'no access_token'))[:64]}")
        return token

    def _userinfo(self, metadata: dict, token: dict, *, subject: str) -> dict:
        endpoint = metadata.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not isinstance(token.get("access_token"), str):
            return {}
        claims = self._get_json(endpoint, "userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
        # OIDC Core §5.3.2: userinfo sub must equal the ID token's sub, otherwise ignore it entirely.
        if claims.get("sub") != subject:
            raise UpstreamError("upstream_error", "userinfo sub differs from the ID token sub")
        return claims

    # -- ID token ----------------------------------------------------------------------------------------

    def _validate_id_token(self, id_token: str, *, nonce: str, now: int) -> dict:
        """OIDC Core §3.1.3.7: signature, iss, aud/azp, exp, iat, nonce. Returns the claims."""
        try:
            header = jws.extract_compact(id_token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise UpstreamError("invalid_signature", "ID token is not a compact JWS") from exc
        alg = header.get("alg")
        if alg not in SIGNING_ALGS:
            raise UpstreamError("invalid_signature", f"ID token alg {str(alg)[:16]!r} is not accepted")
        kid = header.get("kid")
        key = self._find_key(kid, refresh=False) or self._find_key(kid, refresh=True)  # key rotation: refetch once
        if key is None:
            raise UpstreamError("invalid_signature", "no upstream key for the ID token's kid")
        try:
            claims = jwt.decode(id_token, key, algorithms=[alg]).claims
        except BadSignatureError as exc:
            raise UpstreamError("invalid_signature", "ID token signature does not verify") from exc
        except JoseError as exc:
            raise UpstreamError("invalid_signature", f"ID token rejected: {type(exc).__name__}") from exc
        if claims.get("iss") != self.issuer:
            raise UpstreamError("invalid_issuer", "ID token iss differs from the configured issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise UpstreamError("upstream_error", "ID token aud does not include our client_id")
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise UpstreamError("upstream_error", "ID token has several audiences and azp is not our client_id")
        skew = self.max_clock_skew
        for field in ("exp", "iat"):
            if isinstance(claims.get(field), bool) or not isinstance(claims.get(field), int | float):
                raise UpstreamError("upstream_error", f"ID token without numeric {field}")
        if now > claims["exp"] + skew:
            raise UpstreamError("upstream_error", "ID token expired")
        if claims["iat"] > now + skew:
            raise UpstreamError("upstream_error", "ID token issued in the future (clock skew)")
        got_nonce = claims.get("nonce")
        if not isinstance(got_nonce, str) or not hmac.compare_digest(got_nonce.encode(), nonce.encode()):
            raise UpstreamError("nonce_mismatch", "ID token nonce differs from the one sent")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise UpstreamError("upstream_error", "ID token without sub")
        return dict(claims)

    def _find_key(self, kid: Any, *, refresh: bool):
        keys = self._key_set(refresh=refresh)
        if kid is None:
            return keys.keys[0] if len(keys.keys) == 1 else None
        for key in keys.keys:
            if key.kid == kid:
                return key
        return None

    # -- mapping -----------------------------------------------------------------------------------------

    def _identity(self, id_claims: dict, userinfo: dict, *, now: int) -> UpstreamIdentity:
        def claim(name: str) -> Any:
            # The signed ID token wins over userinfo when both carry a claim.
            source = self.claim_mapping[name]
            return id_claims.get(source, userinfo.get(source))

        citizen_source = self.claim_mapping["citizen_id"]
        citizen_id = claim("citizen_id")
        if (citizen_source in id_claims and citizen_source in userinfo
                and id_claims[citizen_source] != userinfo[citizen_source]):
            raise UpstreamError("upstream_error", "ID token and userinfo disagree on the citizen ID")
        if not valid_citizen_id(citizen_id):
            # Domain brief §4: 13 digits with the mod-11 check digit; never show the value in logs.
            raise UpstreamError("invalid_citizen_id", f"{citizen_source} claim missing or failing the checksum")
        raw_ial = id_claims.get("ial", userinfo.get("ial"))
        upstream_ial = _claim_text(raw_ial)
        if upstream_ial is None:
            raise UpstreamError("ial_too_low", "no ial claim from the upstream")
        ial = self.ial_mapping.get(upstream_ial)
        if ial is None:
            raise UpstreamError("ial_too_low", f"upstream ial {upstream_ial[:16]!r} has no mapping")
        claims = {}
        for name in NORMALISED_CLAIMS:
            value = claim(name)
            if name != "citizen_id" and isinstance(value, str) and value:
                claims[name] = value
        upstream_amr = id_claims.get("amr")
        if isinstance(upstream_amr, list) and upstream_amr and all(isinstance(v, str) for v in upstream_amr):
            amr = tuple(upstream_amr)
        else:
            amr = self.amr
        auth_time = id_claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
            auth_time = id_claims["iat"]
        raw_levels = {"ial": raw_ial, "aal": None, "aal_source": "configuration:trusted_aal"}
        for field in ("acr", "amr"):
            if field in id_claims:
                raw_levels[field] = id_claims[field]
        return UpstreamIdentity(
            provider=self.name, issuer=self.issuer, subject=id_claims["sub"], citizen_id=citizen_id,
            claims=claims, ial=ial, aal=self.trusted_aal, amr=amr, auth_time=int(min(auth_time, now)),
            raw_levels=json.loads(json.dumps(raw_levels, default=str)),
        )


def _claim_text(value: Any) -> str | None:
    """The upstream `ial` claim as text for the mapping table: ThaiD may send "2.3" or 2.3."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return normalise_level(value, IAL_LEVELS) or repr(value)
    return None
