"""The authorization server: Authlib's grants and endpoints bound to our storage.

Authlib does the protocol checks (RFC 6749, 7636, 7009, 7523, 7662, OIDC Core); this module
supplies persistence and the rules Authlib leaves open:

* PKCE is required for every client and only S256 is accepted (RFC 9700 §2.1.1).
* A code is claimed with one conditional UPDATE, so two concurrent redemptions yield exactly
  one token response; a replay revokes every token issued from the code (RFC 6749 §4.1.2).
* Refresh tokens rotate on every use; presenting a rotated one revokes its family (RFC 9700 §4.14).
* Access tokens are JWTs (RFC 9068) whose ``jti`` is recorded so revocation takes effect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749 import grants as oauth2_grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error, UnsupportedTokenTypeError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import grants as oidc_grants
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, select, update

from idgw import audit
from idgw.assurance import current_policy
from idgw.oidc.acting import Acting, ActingLookup, Exchange, MandateUse, act_claim
from idgw.oidc.client_auth import (
    ASSERTION_LEEWAY,
    CLIENT_ASSERTION_ALGS,
    MAX_ASSERTION_LIFETIME,
    MAX_JTI_LENGTH,
    basic_credentials,
    check_one_client,
    claim_jti,
    client_auth_error,
    plausible_client_id,
    usable_keyset,
)
from idgw.oidc.keys import SUPPORTED_ALGS, KeyStore, b64url
from idgw.release import claims_for, scope_items
from idgw.security import constant_time_equal, derive_key, random_token, sha256_hex
from idgw.settings import Settings
from idgw.storage import memo, raw
from idgw.storage.models import Account, AuthorizationCode, Client, Token
from idgw.storage.revoke import account_lock, lock_key, revoke_tokens

log = logging.getLogger(__name__)

#: The ORM session of the request being served (set by the adapter around each Authlib call).
current_db: ContextVar = ContextVar("idgw_db")
#: The client IP of that request, for audit records.
current_ip: ContextVar = ContextVar("idgw_ip", default=None)
#: Set while the introspection endpoint authenticates its caller: ``query_client`` then also finds
#: a disabled client, whose tokens are all answered inactive (``Introspection``).
_find_disabled: ContextVar[bool] = ContextVar("idgw_find_disabled", default=False)

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
SCOPES_SUPPORTED = ["openid", "profile", "email", "offline_access", "citizen_id"]


# The token endpoint's statements, built once, on the request's connection: no ORM identity map
# or unit of work on the hot path (the ORM was over half of the CPU per token), and the ones of
# every request on the driver's cursor (idgw.storage.raw: a fifth of the Python cost of Core).
_CODES = AuthorizationCode.__table__
_TOKENS = Token.__table__

RAW_SELECT_CODE = raw.select_from(_CODES, "code_hash = :p_hash")
RAW_CLAIM_CODE = raw.update_returning(
    _CODES, "redeemed_at = :p_now", "code_hash = :p_hash AND redeemed_at IS NULL AND client_id = :p_client_id")
RAW_SELECT_REFRESH = raw.select_from(_TOKENS, "token_hash = :p_hash AND kind = 'refresh'")
_ROTATABLE = ("token_hash = :p_hash AND kind = 'refresh' AND client_id = :p_client_id AND rotated_at IS NULL"
              " AND revoked_at IS NULL AND expires_at > :p_now")
RAW_ROTATE_REFRESH = {
    "sqlite": raw.update_returning(_TOKENS, "rotated_at = :p_now", _ROTATABLE),
    # The account's advisory lock (idgw.storage.revoke.account_lock) taken by the rotation itself:
    # an uncorrelated EXISTS is a one-time filter, evaluated before the scan touches a row. One
    # round trip of a refresh's nine less.
    "postgresql": raw.update_returning(
        _TOKENS, "rotated_at = :p_now",
        _ROTATABLE + " AND EXISTS (SELECT FROM (SELECT pg_advisory_xact_lock(:p_lock)) AS held)"),
}
RAW_INSERT_TOKENS = raw.insert_into(_TOKENS)
RAW_INSERT_TOKEN_PAIR = raw.insert_rows(_TOKENS, 2)  # an access token and its refresh token
RAW_INSERT_CODE = raw.insert_into(_CODES)

# The rotation grace (RefreshTokenGrant): the refresh tokens issued for a rotated one, found
# within its family; the successor revoked only while still unused, so of two retries sent at
# once exactly one wins; and the access tokens issued with it.
SELECT_CHILDREN = select(_TOKENS.c.id, _TOKENS.c.rotated_at, _TOKENS.c.revoked_at).where(
    _TOKENS.c.family_id == bindparam("p_family"), _TOKENS.c.parent_id == bindparam("p_parent"),
    _TOKENS.c.kind == "refresh")
REVOKE_SUCCESSOR = (
    update(_TOKENS)
    .where(_TOKENS.c.id == bindparam("p_id"), _TOKENS.c.rotated_at.is_(None), _TOKENS.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("p_now"))
    .returning(_TOKENS.c.id)
)
REVOKE_SIBLING_ACCESS = (
    update(_TOKENS)
    .where(_TOKENS.c.family_id == bindparam("p_family"), _TOKENS.c.parent_id == bindparam("p_parent"),
           _TOKENS.c.kind == "access", _TOKENS.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("p_now"))
)


def _credential_hash(value) -> str | None:
    """How a presented code or refresh token is looked up (only hashes are stored); None for
    anything that cannot be one of ours (not a string, or longer than any we issue)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    return sha256_hex(value)


def _authlib_methods(methods: list[str]) -> list[str]:
    """Authlib registers private_key_jwt under its own name."""
    return [JWTBearerClientAssertion.CLIENT_AUTH_METHOD if m == "private_key_jwt" else m for m in methods]


@dataclass(frozen=True)
class GrantSubject:
    """Who the tokens are about and how they authenticated: the ``user`` Authlib carries."""

    account_id: str
    session_id: str
    auth_time: int
    acr: str
    amr: list = field(default_factory=list)
    ial: str = "1.1"
    aal: str = "1"
    claims: dict | None = None  # the client's `claims` request parameter, if any
    release: tuple = ()  # what the person agreed to release (idgw.release)
    # The interaction this code completes: its code is derived from it, so that a repeated
    # submit of the same interaction answers with the same (single-use) code, never a second one.
    code_seed: str | None = None
    # Acting for another under a delegation (idgw.oidc.acting): the mandate and the act named.
    mandate_id: str | None = None
    mandate_act: str | None = None

    @classmethod
    def of(cls, row) -> GrantSubject:
        """From a stored code or token row."""
        return cls(account_id=row.account_id, session_id=row.session_id, auth_time=row.auth_time, acr=row.acr,
                   amr=list(row.amr), ial=row.ial, aal=row.aal, claims=row.claims,
                   mandate_id=row.mandate_id, mandate_act=row.mandate_act,
                   # rows issued before releases were recorded: what their scopes showed at consent
                   release=tuple(row.release) if row.release is not None else tuple(sorted(scope_items(row.scope))))

    def get_user_id(self) -> str:
        return self.account_id


class ClientModel(ClientMixin):
    def __init__(self, row: Client) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self):
        return self.row.client_id

    def get_default_redirect_uri(self):
        # OIDC Core §3.1.2.1: redirect_uri is required; never guess one.
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.row.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # Exact string comparison (RFC 9700 §4.1.3): no prefix, no wildcard, no normalisation.
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret):
        if not self.row.secret_hash:
            return False
        return constant_time_equal(sha256_hex(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method, endpoint):
        if method == JWTBearerClientAssertion.CLIENT_AUTH_METHOD:
            method = "private_key_jwt"
        registered = self.row.token_endpoint_auth_method
        if endpoint == "token":
            return method == registered
        # Introspection and revocation are for confidential clients only.
        return method == registered and method != "none"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in self.row.grant_types

    @property
    def is_public(self) -> bool:
        return self.row.token_endpoint_auth_method == "none"


class CodeModel:
    """Adapts an ``AuthorizationCode`` row to Authlib's AuthorizationCodeMixin (OAuth + OIDC)."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row

    def get_redirect_uri(self):
        return self.row.redirect_uri

    def get_scope(self):
        return self.row.scope

    def get_nonce(self):
        return self.row.nonce

    def get_auth_time(self):
        return self.row.auth_time

    def get_acr(self):
        return self.row.acr

    def get_amr(self):
        return self.row.amr


class TokenModel:
    def __init__(self, row: Token) -> None:
        self.row = row

    def check_client(self, client):
        return self.row.client_id == client.get_client_id()

    def get_scope(self):
        return self.row.scope

    def get_expires_in(self):
        return self.row.expires_at - self.row.issued_at

    def is_expired(self):
        return False

    def is_revoked(self):
        return self.row.revoked_at is not None


def revoke_family(db, *, family_id: str, account_id: str, now: int) -> int:
    """Revoke every live token descending from one grant; returns how many were revoked."""
    return revoke_tokens(db, Token.family_id == family_id, account_id=account_id, now=now)


class S256CodeChallenge(CodeChallenge):
    """PKCE required for every client, S256 only (``plain`` and a missing method are refused,
    since RFC 7636 §4.3 makes a missing method mean ``plain``)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        return super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        return super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.row.code_challenge_method


class AuthorizationCodeGrant(oauth2_grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _authlib_methods(TOKEN_AUTH_METHODS)

    def generate_authorization_code(self):
        seed = getattr(self.request.user, "code_seed", None)
        return self.server.derived_code(seed) if seed else super().generate_authorization_code()

    def save_authorization_code(self, code, request):
        server: Provider = self.server
        subject: GrantSubject = request.user
        now = server.clock.now()
        db = current_db.get()
        data = request.payload.data
        client_id, scope = request.client.get_client_id(), request.scope or ""
        # On the driver's cursor, as the tokens are: with the interaction's claim (also there),
        # the step that issues a code leaves the unit of work nothing to flush. Rows this request
        # added through the ORM (an account made by a first sign-in) go first: the code refers to them.
        if db.new:
            db.flush()
        raw.execute(db.connection(), RAW_INSERT_CODE, dict(
            id=str(uuid.uuid4()), code_hash=sha256_hex(code), client_id=client_id,
            account_id=subject.account_id, session_id=subject.session_id,
            redirect_uri=data["redirect_uri"], scope=scope, nonce=data.get("nonce"),
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            auth_time=subject.auth_time, acr=subject.acr, amr=raw.json_param(list(subject.amr)), ial=subject.ial,
            aal=subject.aal, claims=raw.json_param(subject.claims), release=raw.json_param(list(subject.release)),
            mandate_id=subject.mandate_id, mandate_act=subject.mandate_act,
            created_at=now, expires_at=now + server.settings.code_ttl, redeemed_at=None,
        ))
        audit.record(db, "authorization.granted", at=now, actor=subject.account_id,
                     client_id=client_id, session_id=subject.session_id, ip=current_ip.get(), scope=scope)

    def query_authorization_code(self, code, client):
        """Find the code, changing nothing: every check of the request (redirect_uri, PKCE) runs
        before the code is used up in ``authenticate_user``, so a refused request leaves it as it
        was (security review item 6's class: nothing may change on a refused request). A code that
        was already redeemed is a replay: the tokens issued from it are revoked (RFC 6749 §4.1.2)."""
        server: Provider = self.server
        db = current_db.get()
        now = server.clock.now()
        code_hash = _credential_hash(code)
        if code_hash is None:
            return None
        row = raw.first(db.connection(), RAW_SELECT_CODE, {"p_hash": code_hash})
        # Unknown, or another client's code (left alone: that client's tokens are not ours to revoke).
        if row is None or row.client_id != client.get_client_id():
            return None
        if row.redeemed_at is not None:
            self._replayed(db, row, now)
            return None
        if row.expires_at <= now:
            return None
        return CodeModel(row)

    def _replayed(self, db, row, now: int) -> None:
        revoked = revoke_family(db, family_id=row.id, account_id=row.account_id, now=now)
        audit.record(db, "code.replayed", at=now, actor=row.account_id, client_id=row.client_id,
                     session_id=row.session_id, ip=current_ip.get(), revoked_tokens=revoked)

    def delete_authorization_code(self, authorization_code):
        # Kept (marked redeemed) until it expires, so a replay is recognised and answered.
        return None

    def authenticate_user(self, authorization_code):
        """The request passed every check: use the code up. One conditional UPDATE claims it, so of
        two concurrent redemptions exactly one gets it (the database serialises the write); the
        other is a replay. The code's account exists (foreign keys)."""
        server: Provider = self.server
        db = current_db.get()
        now = server.clock.now()
        row = authorization_code.row
        claimed = raw.first(db.connection(), RAW_CLAIM_CODE, {"p_hash": row.code_hash, "p_client_id": row.client_id,
                                                              "p_now": now})
        if claimed is None:
            self._replayed(db, row, now)
            raise InvalidGrantError("Invalid 'code' in request.")
        # Acting for another: the mandate must still be in effect, and a single-use one is used up now.
        if claimed.mandate_id and not server.use_mandate(db, mandate_id=claimed.mandate_id,
                                                         account_id=claimed.account_id, client_id=claimed.client_id,
                                                         act=claimed.mandate_act, now=now):
            raise InvalidGrantError("The delegation this sign-in acts under is no longer in effect.")
        audit.record(db, "code.redeemed", at=now, actor=row.account_id, client_id=row.client_id,
                     session_id=row.session_id, ip=current_ip.get())
        return GrantSubject.of(claimed)


class OpenIDCode(oidc_grants.OpenIDCode):
    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce, request):
        # Codes are single use and bound to the nonce, so a nonce cannot be replayed through us.
        return False

    def encode_id_token(self, token, request: OAuth2Request):
        return self.provider.encode_id_token(
            client=request.client, subject=request.user, access_token=token.get("access_token"),
            nonce=request.authorization_code.get_nonce() if request.authorization_code else None,
            scope=token.get("scope") or "",
        )


class RefreshTokenGrant(oauth2_grants.RefreshTokenGrant):
    """Rotation on every use, reuse detection, and a short grace for a lost response.

    A rotated refresh token presented again is reuse: the family is revoked (RFC 9700 §4.14.2).
    But a rotation committed whose response never arrived (the client or a proxy timed out, the
    gateway was killed between the commit and the answer) would then cost the person the whole
    grant, once the client retried with the token it still holds. So, as RFC 9700 §4.14.2
    allows, the rotated token presented again by the same client within ``refresh_grace``
    seconds of its rotation, while the refresh token issued for it has never been used, gets a
    fresh pair from the same grant; the unused successor (and the access token issued with it)
    is revoked: there is still one live pair, and the window is measured from the rotation, so
    retries do not extend it.

    Once per rotation: after a grace re-issue the old token answers ``invalid_grant`` (nothing
    revoked), so two retries sent at once get one pair between them (the successor is revoked by
    one conditional UPDATE, which exactly one wins), and a third party presenting the old token
    later gets nothing. Anything else stays reuse: after the grace, or once the successor (or the
    pair the grace issued) has been used.

    The revoked successor presented afterwards is reuse too (the family is revoked): the grace
    assumed its response was lost, so whoever presents it received it, and two holders of one
    grant are exactly what reuse detection exists for (a thief who re-presented the old token in
    the window is found out at the legitimate client's next refresh, not never)."""

    TOKEN_ENDPOINT_AUTH_METHODS = _authlib_methods(TOKEN_AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True
    #: The unused successor a grace re-issue replaces (set by authenticate_refresh_token).
    _successor: str | None = None

    def authenticate_refresh_token(self, refresh_token):
        """Find the live refresh token of this client, changing nothing (the scope is checked after
        this, and a refused request must not rotate the token: security review item 6), except
        that reuse revokes the whole family (RFC 9700 §4.14.2)."""
        server: Provider = self.server
        db = current_db.get()
        now = server.clock.now()
        token_hash = _credential_hash(refresh_token)
        if token_hash is None:
            return None
        row = raw.first(db.connection(), RAW_SELECT_REFRESH, {"p_hash": token_hash})
        # Another client's token is refused and left alone, so no client can revoke another's grant.
        if row is None or row.client_id != self.request.client.get_client_id() or row.expires_at <= now:
            return None
        if row.revoked_at is not None:
            if row.rotated_at is None and row.parent_id is not None:
                # Perhaps a successor the grace replaced: its family may still live (see the class).
                self._reused(db, row, now)
            return None
        if row.rotated_at is not None:
            self._successor = self._grace_successor(db, row, now)
            if self._successor is None:
                return None
        # Acting for another: a revoked, expired or used-up delegation issues nothing more.
        if row.mandate_id and server.acting_for(db, subject=GrantSubject.of(row), client_id=row.client_id,
                                                purpose="issue") is None:
            return None
        return TokenModel(row)

    def _grace_successor(self, db, row, now: int) -> str | None:
        """For a rotated token presented again: the id of its unused successor when the grace
        applies; otherwise None, after revoking the family when that is reuse (see the class)."""
        grace = self.server.settings.refresh_grace
        if grace <= 0 or now - row.rotated_at > grace:
            self._reused(db, row, now)
            return None
        children = db.connection().execute(SELECT_CHILDREN, {"p_family": row.family_id, "p_parent": row.id}).all()
        if not children or any(c.rotated_at is not None for c in children):
            # Used already, or rotated before successors were recorded (revision 0010).
            self._reused(db, row, now)
            return None
        live = [c.id for c in children if c.revoked_at is None]
        if len(children) != 1 or len(live) != 1:
            return None  # re-issued once already (or revoked with the rest): nothing more, nothing burnt
        return live[0]

    def _reused(self, db, row, now: int) -> None:
        revoked = revoke_family(db, family_id=row.family_id, account_id=row.account_id, now=now)
        if revoked or row.revoked_at is None:
            audit.record(db, "token.reused", at=now, actor=row.account_id, client_id=row.client_id,
                         session_id=row.session_id, ip=current_ip.get(), revoked_tokens=revoked)

    def _rotate(self) -> None:
        """Every check passed: rotate, atomically. Losing a race with a concurrent use of the
        same token is reuse (one of the two presenters is not the legitimate client). In the
        grace, the unused successor is revoked instead, by one conditional UPDATE: of two
        retries at once one gets the fresh pair, the other ``invalid_grant``."""
        db = current_db.get()
        now = self.server.clock.now()
        row = self.request.refresh_token.row
        conn = db.connection()
        if self._successor is not None:
            account_lock(db, account_id=row.account_id)
            won = conn.execute(REVOKE_SUCCESSOR, {"p_id": self._successor, "p_now": now}).first()
            if won is None:  # a concurrent retry replaced it first, or the successor was just used
                children = conn.execute(SELECT_CHILDREN, {"p_family": row.family_id, "p_parent": row.id}).all()
                if any(c.rotated_at is not None for c in children):
                    self._reused(db, row, now)
                raise InvalidGrantError()
            conn.execute(REVOKE_SIBLING_ACCESS, {"p_family": row.family_id, "p_parent": row.id, "p_now": now})
            return
        rotated = raw.first(conn, RAW_ROTATE_REFRESH[conn.dialect.name], {
            "p_hash": row.token_hash, "p_client_id": row.client_id, "p_now": now, "p_lock": lock_key(row.account_id)})
        if rotated is None:
            self._reused(db, row, now)
            raise InvalidGrantError()
        self.request.refresh_token = TokenModel(rotated)

    def authenticate_user(self, refresh_token):
        # The token's account exists: tokens reference accounts by foreign key.
        return GrantSubject.of(refresh_token.row)

    def revoke_old_credential(self, refresh_token):
        # Already marked rotated inside authenticate_refresh_token (atomically).
        return None

    def create_token_response(self):
        self._rotate()
        status, token, headers = super().create_token_response()
        request = self.request
        if "openid" in (token.get("scope") or "").split():
            # OIDC Core §12.2: a refreshed response may carry a new ID token (no nonce).
            token["id_token"] = self.server.encode_id_token(
                client=request.client, subject=request.user, access_token=token.get("access_token"), nonce=None,
                scope=token.get("scope") or "")
        # A grace re-issue is still a refresh (counted as one); the detail says it replaced a pair.
        audit.record(current_db.get(), "token.refreshed", at=self.server.clock.now(),
                     actor=request.user.account_id, client_id=request.client.get_client_id(),
                     session_id=request.user.session_id, ip=current_ip.get(),
                     **({"grace": True} if self._successor is not None else {}))
        return status, token, headers


class PrivateKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt`` client authentication (OIDC Core §9, RFC 7523 §3): the assertion is
    verified only with ``CLIENT_ASSERTION_ALGS`` (joserfc's default would refuse PS256, which we
    advertise, and accept HS256), with a key of the client that can do the header's alg, and
    with its lifetime capped (``MAX_ASSERTION_LIFETIME``)."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY)
        self.provider = provider

    def __call__(self, query_client, request):
        try:
            return super().__call__(query_client, request)
        except OAuth2Error:
            raise
        except (JoseError, ValueError, TypeError, KeyError, RecursionError) as exc:
            # A header or payload of the wrong shape, met by Authlib or joserfc before the signature
            # is checked: not a 500. E.g. a list as alg, a payload that is not UTF-8, or one nested
            # thousands deep (Authlib's json.loads raises RecursionError; joserfc caps only the
            # header's size, 512 bytes).
            log.debug("client assertion refused: %r", exc)
            raise client_auth_error("Invalid client assertion") from exc

    def get_audiences(self):
        # RFC 7523 §3: the token endpoint URL; the issuer is accepted too (RFC 7523bis).
        return [self.provider.endpoint("token"), self.provider.settings.issuer]

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            # joserfc checks that the alg is allowed and that the key (chosen by kid) can do it:
            # key type, curve, and the key's own "alg" when it has one.
            token = jwt.decode(assertion, resolve_key, algorithms=list(CLIENT_ASSERTION_ALGS))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise client_auth_error("The client assertion does not verify with the client's keys "
                                    f"and one of {', '.join(CLIENT_ASSERTION_ALGS)}") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims):
        now = self.provider.clock.now()
        registry = jwt.JWTClaimsRegistry(
            now=self.provider.clock.now, leeway=self.leeway, iss={"essential": True}, sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()}, exp={"essential": True},
            jti={"essential": True})
        try:
            registry.validate(claims)  # types, exp, nbf and iat (not in the future) with the leeway
        except JoseError as exc:
            raise client_auth_error(f"Invalid client assertion: {exc.description}") from exc
        if claims["sub"] != claims["iss"]:
            raise client_auth_error("The client assertion's iss and sub must both be the client_id")
        # RFC 7523 §3: exp is required (checked above) and may not be unreasonably far ahead;
        # the jti is remembered until exp, so the cap is also how long that record lives.
        exp, iat = claims["exp"], claims.get("iat")
        if exp - now > MAX_ASSERTION_LIFETIME + self.leeway or (iat is not None and exp - iat > MAX_ASSERTION_LIFETIME):
            raise client_auth_error(f"The client assertion may be valid for at most {MAX_ASSERTION_LIFETIME} seconds")
        jti = claims["jti"]
        if not jti or len(jti) > MAX_JTI_LENGTH:
            raise client_auth_error("Invalid client assertion: jti")
        if not self.validate_jti(claims, jti):
            raise client_auth_error("The client assertion was used before (jti)")

    def validate_jti(self, claims, jti):
        # RFC 7523 §3 replay check, kept until the assertion expires; concurrent uses of one
        # jti give one success and one refusal (``claim_jti``), never a unique-key error.
        return claim_jti(current_db.get(), jti_hash=sha256_hex(f"{claims['iss']}:{jti}"),
                         expires_at=int(claims["exp"]) + self.leeway)

    def resolve_client_public_key(self, client):
        if client.row.token_endpoint_auth_method != "private_key_jwt":
            raise client_auth_error("The client is not registered for private_key_jwt")
        return self.provider.client_keyset(client.row)


class _TokenTypeHint:
    """Authlib answers an unknown ``token_type_hint`` with ``unsupported_token_type`` and status 401
    (its ForbiddenError) but no WWW-Authenticate; it is a request error (RFC 7009 §2.2.1 and RFC
    6749 §5.2: 400; 401 is for client authentication only). Found by tests/security/test_fuzz.py."""

    def check_params(self, request, client):
        try:
            super().check_params(request, client)
        except UnsupportedTokenTypeError as err:
            err.status_code = 400
            raise


class Introspection(_TokenTypeHint, IntrospectionEndpoint):
    """RFC 7662. A disabled service (``Provider.query_client``) may still authenticate here, and
    every token it asks about is inactive: its resource servers learn that the tokens no longer
    work (RFC 7662 §2.2), rather than a credential error they might take for their own mistake."""

    CLIENT_AUTH_METHODS = _authlib_methods(CONFIDENTIAL_AUTH_METHODS)

    def authenticate_endpoint_client(self, request):
        reset = _find_disabled.set(True)
        try:
            return super().authenticate_endpoint_client(request)
        finally:
            _find_disabled.reset(reset)

    def query_token(self, token_string, token_type_hint):
        return self.server.find_token(token_string)

    def check_permission(self, token, client, request):
        # A client may introspect only what was issued to it.
        return token.row.client_id == client.get_client_id()

    def introspect_token(self, token):
        row: Token = token.row
        now = self.server.clock.now()
        if row.revoked_at is not None or row.expires_at <= now or (row.kind == "refresh" and row.rotated_at):
            return {"active": False}
        db = current_db.get()
        client = db.get(Client, row.client_id)
        if client is None or client.disabled_at is not None:  # the service is disabled: nothing of it works
            return {"active": False}
        # RFC 7662 §2.2 allows more: what userinfo would answer with this token, nothing beyond.
        who = self.server.identity(client=client, subject=GrantSubject.of(row), target="userinfo", scope=row.scope)
        if who is None:  # acting under a delegation that ended
            return {"active": False}
        return {
            "active": True, "client_id": row.client_id, "scope": row.scope,
            "token_type": "Bearer" if row.kind == "access" else "refresh_token",
            "exp": row.expires_at, "iat": row.issued_at, "iss": self.server.settings.issuer,
            "aud": row.client_id, "auth_time": row.auth_time, "acr": row.acr, "amr": row.amr,
            "ial": row.ial, "aal": row.aal,
            **({"jti": row.jti} if row.jti else {}),
            **who,
        }


class Revocation(_TokenTypeHint, RevocationEndpoint):
    CLIENT_AUTH_METHODS = _authlib_methods(CONFIDENTIAL_AUTH_METHODS)

    def query_token(self, token_string, token_type_hint):
        return self.server.find_token(token_string)

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.1: a token of another client is not revoked, and the answer is the same 200.
        if token and token.check_client(client):
            return token
        return None

    def revoke_token(self, token, request):
        db = current_db.get()
        now = self.server.clock.now()
        row: Token = token.row
        # RFC 7009 §2.1: revoking a refresh token also invalidates the grant's access tokens.
        if row.kind == "refresh":
            revoke_family(db, family_id=row.family_id, account_id=row.account_id, now=now)
        elif row.revoked_at is None:
            row.revoked_at = now
        audit.record(db, "token.revoked", at=now, actor=row.account_id, client_id=row.client_id,
                     session_id=row.session_id, ip=current_ip.get(), kind=row.kind)


class Provider(AuthorizationServer):
    """Authlib's authorization server with our storage. Request objects come from
    ``idgw.oidc.adapter``; every call runs with ``current_db`` set."""

    def __init__(self, *, settings: Settings, keys: KeyStore, clock, pairwise_salt: bytes,
                 acting: ActingLookup | None = None, mandate_use: MandateUse | None = None,
                 exchange: Exchange | None = None) -> None:
        super().__init__(scopes_supported=SCOPES_SUPPORTED)
        # Delegation of authority, handed in by app.py (idgw.oidc.acting): without it no grant acts for another.
        self._acting = acting
        self._mandate_use = mandate_use
        self.exchange = exchange
        self.settings = settings
        self._code_key = derive_key(settings.secret_key, "authorization-code")
        self.keys = keys
        self.clock = clock
        self._pairwise_salt = pairwise_salt
        # client_id@created_at -> (until, the keys, or why there are none: a jwks_uri refusal)
        self._client_keysets: dict[str, tuple[int, KeySet | str]] = {}
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(self)])
        self.register_grant(RefreshTokenGrant)
        if exchange is not None:
            from idgw.oidc.exchange import TokenExchangeGrant

            self.register_grant(TokenExchangeGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.register_client_auth_method(JWTBearerClientAssertion.CLIENT_AUTH_METHOD, PrivateKeyJWT(self))
        self.register_client_auth_method("client_secret_basic", self._authenticate_basic)

    # -- client authentication (token, introspection, revocation) ---------------------------------
    def authenticate_client(self, request, methods, endpoint="token"):
        """Authlib's client authentication, with what it leaves open: the Authorization header
        read strictly (``basic_credentials``), one client and one method per request
        (``check_one_client``), and 401 with a Basic challenge whenever the client used the
        Authorization header (RFC 6749 §5.2). Every refusal is ``invalid_client``."""
        basic = basic_credentials(request.headers)  # raises invalid_client (401) if malformed
        try:
            client = super().authenticate_client(request, methods, endpoint)
            check_one_client(request, client, basic)
        except OAuth2Error as err:
            if basic is not None and err.error == "invalid_client":
                err.status_code = 401
            # The description goes into WWW-Authenticate (latin-1 on the wire): ASCII only.
            if err.description:
                err.description = err.description.encode("ascii", "replace").decode("ascii")
            raise
        return client

    @staticmethod
    def _authenticate_basic(query_client, request):
        """client_secret_basic from the strictly parsed header: credentials that were sent
        and are wrong end the authentication (401), whatever else the request carries."""
        basic = basic_credentials(request.headers)
        if basic is None:
            return None
        client = query_client(basic[0])
        if client is None or not client.check_client_secret(basic[1]):
            raise client_auth_error("Client authentication failed", header=True)
        return client

    # -- Authlib hooks -------------------------------------------------------------------------
    def query_client(self, client_id):
        """The client of every OIDC endpoint (/authorize, the code's issue, /token, /revoke,
        /introspect). A disabled one (``clients.disabled_at``, set in the admin console) is no
        client while it is disabled: /authorize shows the person an error page and never
        redirects to it (RFC 6749 §4.1.2.1: the client identifier is not valid now, so its
        redirect URI is not one to send anyone to; a service is often disabled because its site
        cannot be trusted), and /token and /revoke answer ``invalid_client`` (so refresh stops
        too). Only /introspect still finds it, to answer its tokens inactive (``Introspection``).
        Enabling it again restores all of it: nothing was revoked."""
        # Visible ASCII, at most 64: anything else is no client and never reaches the database
        # (a NUL in a PostgreSQL text parameter is an error, not a miss).
        if not plausible_client_id(client_id):
            return None
        # Once per transaction (a sign-in's last step looks its client up three times).
        row = memo.client_row(current_db.get(), client_id)
        if row is None or (row.disabled_at is not None and not _find_disabled.get()):
            return None
        return ClientModel(row)

    def send_signal(self, name, *args, **kwargs):
        return None

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        return status, body, headers

    def save_token(self, token, request):
        db = current_db.get()
        now = self.clock.now()
        subject: GrantSubject = request.user
        client_id = request.client.get_client_id()
        parent_id = None
        if request.authorization_code is not None:
            family_id = request.authorization_code.row.id
        elif request.refresh_token is not None:
            family_id = request.refresh_token.row.family_id
            parent_id = request.refresh_token.row.id  # the rotation grace finds this pair by it
        else:  # token exchange: a grant of its own
            family_id = str(uuid.uuid4())
        common = dict(family_id=family_id, parent_id=parent_id, client_id=client_id, account_id=subject.account_id,
                      session_id=subject.session_id, scope=token.get("scope", ""), auth_time=subject.auth_time,
                      acr=subject.acr, amr=raw.json_param(list(subject.amr)), ial=subject.ial, aal=subject.aal,
                      claims=raw.json_param(subject.claims), release=raw.json_param(list(subject.release)),
                      issued_at=now, rotated_at=None, revoked_at=None,
                      mandate_id=subject.mandate_id, mandate_act=subject.mandate_act)
        rows = [dict(id=str(uuid.uuid4()), kind="access", token_hash=sha256_hex(token["access_token"]),
                     jti=token.pop("_jti"), expires_at=now + self.settings.access_token_ttl, **common)]
        if "refresh_token" in token:
            rows.append(dict(id=str(uuid.uuid4()), kind="refresh", token_hash=sha256_hex(token["refresh_token"]),
                             jti=None, expires_at=now + self.settings.refresh_token_ttl, **common))
        conn = db.connection()
        if len(rows) == 2 and conn.dialect.name == "postgresql":  # executemany is a pipeline there: 6x the cost
            raw.execute(conn, RAW_INSERT_TOKEN_PAIR, raw.row_params(rows))
        else:  # sqlite3's executemany is one prepared statement stepped twice (measured: 12% less CPU per token)
            raw.execute(conn, RAW_INSERT_TOKENS, rows)
        if request.authorization_code is not None:
            audit.record(db, "token.issued", at=now, actor=subject.account_id, client_id=client_id,
                         session_id=subject.session_id, ip=current_ip.get(),
                         refresh="refresh_token" in token)

    # -- tokens ----------------------------------------------------------------------------------
    def derived_code(self, seed: str) -> str:
        """The authorization code for an interaction: HMAC of its random id under a key derived
        from the secret key, so unguessable, and the same for a repeated submit (see GrantSubject)."""
        return b64url(hmac.new(self._code_key, f"code|{seed}".encode(), hashlib.sha256).digest()).decode()

    def code_location(self, *, params: dict, code: str) -> str:
        """The authorization response for ``code`` (code, state, iss: RFC 6749 §4.1.2, RFC 9207)."""
        query = [("code", code)] + ([("state", params["state"])] if params.get("state") else [])
        return add_params_to_uri(params["redirect_uri"], [*query, ("iss", self.settings.issuer)])

    def endpoint(self, name: str) -> str:
        return self.settings.issuer + ENDPOINT_PATHS[name]

    def subject_for(self, *, client: Client, account_id: str) -> str:
        """Pairwise ``sub`` by default (OIDC Core §8.1): HMAC(instance salt, sector, account), where
        the sector is the host of the client's redirect URIs or of its sector_identifier_uri, so
        one agency's services on one host see one ``sub`` and different hosts never do. Clients
        registered before sectors existed keep their per-client key."""
        if client.subject_type == "public":
            return account_id
        key = f"sector:{client.sector_identifier}" if client.sector_identifier else client.client_id
        mac = hmac.new(self._pairwise_salt, f"{key}\x00{account_id}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def _generate_token(self, grant_type, client, user, scope, expires_in=None, include_refresh_token=True):
        scope = client.get_allowed_scope(scope)
        now = self.clock.now()
        jti = random_token(18)
        who = self.identity(client=client.row, subject=user, target=None, scope=scope)
        if who is None:
            raise InvalidGrantError("The delegation this grant acts under is no longer in effect.")
        claims = {
            "iss": self.settings.issuer, **who,
            "aud": client.get_client_id(), "client_id": client.get_client_id(), "iat": now,
            "exp": now + self.settings.access_token_ttl, "jti": jti, "scope": scope,
            "auth_time": user.auth_time, "acr": user.acr, "amr": list(user.amr), "sid": user.session_id,
            "ial": user.ial, "aal": user.aal,
        }
        access_token = self.keys.signer("ES256").sign(claims, typ="at+jwt")
        token = {"token_type": "Bearer", "access_token": access_token,
                 "expires_in": self.settings.access_token_ttl, "scope": scope, "_jti": jti}
        # Refresh tokens only for offline_access that the person consented to (OIDC Core §11).
        if include_refresh_token and "offline_access" in scope.split():
            token["refresh_token"] = random_token(32)
        return token

    def encode_id_token(self, *, client: ClientModel, subject: GrantSubject, access_token: str | None,
                        nonce: str | None, scope: str) -> str:
        alg = client.row.id_token_signed_response_alg or "ES256"
        signer = self.keys.signer(alg)
        now = self.clock.now()
        who = self.identity(client=client.row, subject=subject, target="id_token", scope=scope)
        if who is None:
            raise InvalidGrantError("The delegation this grant acts under is no longer in effect.")
        claims = {
            "iss": self.settings.issuer, "aud": client.get_client_id(), "iat": now,
            "exp": now + self.settings.id_token_ttl,
            "auth_time": subject.auth_time, "acr": subject.acr, "amr": list(subject.amr),
            "sid": subject.session_id, "ial": subject.ial, "aal": subject.aal, **who,
        }
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            # OIDC Core §3.1.3.6: left half of the SHA-256 of the access token (all our algs are *256)
            claims["at_hash"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16]).decode()
        return signer.sign(claims, typ="JWT")

    def released(self, *, client_id: str, subject: GrantSubject, target: str, scope: str) -> dict:
        """The claims the person agreed to release to ``target`` (``id_token`` or ``userinfo``) for
        this grant (``idgw.release``; nothing is read when nothing was agreed for the target)."""
        if not any(item.startswith(target + "/") for item in subject.release):
            return {}
        db = current_db.get()
        account = db.get(Account, subject.account_id)
        if account is None:
            return {}
        return claims_for(release=subject.release, target=target, account=account, scope=scope,
                          policy=current_policy(db, client_id))

    def acting_for(self, db, *, subject: GrantSubject, client_id: str, purpose: str = "read") -> Acting | None:
        """Whom a grant under a delegation is about, or None when the delegation no longer allows it."""
        if self._acting is None:
            return None
        return self._acting(db, mandate_id=subject.mandate_id, account_id=subject.account_id, client_id=client_id,
                            act=subject.mandate_act, now=self.clock.now(), purpose=purpose)

    def use_mandate(self, db, **kwargs) -> bool:
        return self._mandate_use is not None and self._mandate_use(db, **kwargs)

    def identity(self, *, client: Client, subject: GrantSubject, target: str | None, scope: str) -> dict | None:
        """Who a token or response is about: ``sub`` and the claims released to ``target``
        (``id_token``, ``userinfo``, or None for an access token); acting under a delegation,
        ``sub`` is the principal and ``act`` and ``delegation`` say who acts and how
        (``idgw.oidc.acting``). None when that delegation no longer allows it."""
        released = self.released(client_id=client.client_id, subject=subject, target=target,
                                 scope=scope) if target else {}
        if not subject.mandate_id:
            return {"sub": self.subject_for(client=client, account_id=subject.account_id), **released}
        acting = self.acting_for(current_db.get(), subject=subject, client_id=client.client_id)
        if acting is None:
            return None
        return {"sub": self.subject_for(client=client, account_id=acting.principal),
                "act": act_claim(acting, sub_of=lambda key: self.subject_for(client=client, account_id=key),
                                 released=released),
                "delegation": acting.claim}

    def verify_own_jwt(self, token: str, *, typ: str | None = None, check_exp: bool = True) -> dict:
        """Verify a JWT we signed (signature, alg allow-list, iss, optionally typ and exp).
        Raises ``ValueError`` with a public reason otherwise. ``alg=none`` never verifies."""
        from joserfc.errors import JoseError

        self.keys.refresh()
        try:
            decoded = jwt.decode(token, self.keys.public_keyset, algorithms=list(SUPPORTED_ALGS))
        except (JoseError, ValueError, TypeError) as exc:
            raise ValueError("signature or format invalid") from exc
        if typ is not None and decoded.header.get("typ") != typ:
            raise ValueError("wrong token type")
        claims = decoded.claims
        if claims.get("iss") != self.settings.issuer:
            raise ValueError("wrong issuer")
        if check_exp and not (isinstance(claims.get("exp"), int) and claims["exp"] > self.clock.now()):
            raise ValueError("expired")
        return claims

    def find_token(self, token_string: str) -> TokenModel | None:
        if not isinstance(token_string, str) or len(token_string) > 8192:
            return None
        row = current_db.get().scalar(select(Token).where(Token.token_hash == sha256_hex(token_string)))
        return TokenModel(row) if row else None

    def client_keyset(self, client: Client) -> KeySet:
        """The client's public keys for private_key_jwt: its registered JWKS, or its jwks_uri
        read (``_fetch_jwks``) and kept for ``JWKS_CACHE_SECONDS``. A jwks_uri that could not be
        read, or served no usable key, is not read again for ``JWKS_RETRY_SECONDS``: the keys are
        looked up before the assertion's signature is checked, so anyone can make a request that
        names the client, and each read holds a worker thread for up to the fetch's deadline."""
        now = self.clock.now()
        # Keyed by registration time and by the registered keys too, so a re-registered client, or
        # one whose JWKS or jwks_uri an admin changed, never gets stale keys.
        registered = sha256_hex(json.dumps(client.jwks, sort_keys=True)) if client.jwks else client.jwks_uri
        cache_key = f"{client.client_id}@{client.created_at}@{registered}"
        cached = self._client_keysets.get(cache_key)
        if cached and cached[0] > now:
            if isinstance(cached[1], str):
                raise client_auth_error(cached[1])
            return cached[1]
        # Keys the endpoint cannot verify with (``idgw.oidc.client_auth.client_key_problem``:
        # private or symmetric, other curves, short RSA, wrong alg or use) are left out, whether
        # registered before registration checked them or served by the jwks_uri; none left, or
        # no keys at all, is invalid_client.
        if client.jwks:
            keyset = usable_keyset(client.jwks, client_id=client.client_id)
            self._client_keysets[cache_key] = (2**62, keyset)  # parsed once per process
            return keyset
        if not client.jwks_uri:
            raise client_auth_error("The client has no registered keys")
        try:
            keyset = usable_keyset(_fetch_jwks(client.jwks_uri), client_id=client.client_id)
        except OAuth2Error as err:  # read, but no key the endpoint can verify with
            refusal = err.description
        except Exception as exc:  # noqa: BLE001 - any failure means the client cannot authenticate
            log.warning("jwks_uri fetch failed for client %s: %s", client.client_id, type(exc).__name__)
            refusal = "The client's keys are unavailable"
        else:
            self._client_keysets[cache_key] = (now + JWKS_CACHE_SECONDS, keyset)
            return keyset
        self._client_keysets[cache_key] = (now + JWKS_RETRY_SECONDS, refusal)
        raise client_auth_error(refusal)

    def authorization_error_redirect(self, *, redirect_uri: str, error: str, description: str | None,
                                     state: str | None) -> str:
        """Error redirect to a verified redirect URI, with ``iss`` (RFC 9207 §2)."""
        params = [("error", error)]
        if description:
            params.append(("error_description", description))
        if state:
            params.append(("state", state))
        params.append(("iss", self.settings.issuer))
        return add_params_to_uri(redirect_uri, params)


#: The largest JWKS read from a client's jwks_uri (a JWKS of a few keys is a few KiB).
MAX_JWKS_BYTES = 64 * 1024
#: How long the keys read from a jwks_uri are used, and how long a failed read is remembered (seconds).
JWKS_CACHE_SECONDS = 300
JWKS_RETRY_SECONDS = 30
#: How long reading a jwks_uri's body may take in all (httpx's timeout is per connect or read,
#: so a server sending a byte every few seconds would otherwise hold the thread for hours).
JWKS_FETCH_DEADLINE = 5.0


def _fetch_jwks(uri: str):
    """The JSON at a client's jwks_uri: 3 seconds per connect or read and ``JWKS_FETCH_DEADLINE``
    for the body, no redirects, at most ``MAX_JWKS_BYTES``."""
    import time

    import httpx

    deadline = time.monotonic() + JWKS_FETCH_DEADLINE
    with httpx.stream("GET", uri, timeout=3.0, follow_redirects=False) as resp:
        resp.raise_for_status()
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("JWKS too large")
            if time.monotonic() > deadline:
                raise TimeoutError("JWKS too slow")
    return json.loads(body)


ENDPOINT_PATHS = {
    "authorization": "/authorize",
    "token": "/token",
    "userinfo": "/userinfo",
    "jwks": "/jwks.json",
    "introspection": "/introspect",
    "revocation": "/revoke",
    "end_session": "/logout",
}
