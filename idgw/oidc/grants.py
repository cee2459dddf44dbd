"""The grants of the token endpoint, bound to our storage: authorization code (PKCE S256 only, a
code claimed by one conditional UPDATE, a replay revoking what the code issued) with OpenID
Connect's ID token, and refresh (rotation on every use, reuse revoking the family, a short grace
for a lost response: RFC 9700 §4.14.2)."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749 import grants as oauth2_grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oidc.core import grants as oidc_grants
from sqlalchemy import bindparam, select, update

from idgw import audit
from idgw.oidc.context import current_db, current_ip
from idgw.oidc.models import TOKEN_AUTH_METHODS, CodeModel, GrantSubject, TokenModel, authlib_methods, credential_hash
from idgw.security import sha256_hex
from idgw.storage import raw
from idgw.storage.models import AuthorizationCode, Token
from idgw.storage.revoke import account_lock, lock_key, lock_key_sql, revoke_tokens

if TYPE_CHECKING:
    from idgw.oidc.provider import Provider

log = logging.getLogger(__name__)

# The token endpoint's statements, built once, on the request's connection: no ORM identity map
# or unit of work on the hot path (the ORM was over half of the CPU per token), and the ones of
# every request on the driver's cursor (idgw.storage.raw: a fifth of the Python cost of Core).
_CODES = AuthorizationCode.__table__
_TOKENS = Token.__table__

RAW_SELECT_CODE = raw.select_from(_CODES, "code_hash = :p_hash")
RAW_CLAIM_CODE = raw.update_returning(
    _CODES, "redeemed_at = :p_now", "code_hash = :p_hash AND redeemed_at IS NULL AND client_id = :p_client_id")
# A request that carries what a valid one must (its redirect_uri, a well-formed code_verifier):
# the code is claimed where the database finds every check true at once, the verifier's S256
# against the challenge included, so the usual token request reads and claims its code in one
# statement. Any other outcome changes nothing and is read as before (RAW_SELECT_CODE).
RAW_REDEEM_CODE = raw.update_returning(
    _CODES, "redeemed_at = :p_now",
    "code_hash = :p_hash AND redeemed_at IS NULL AND client_id = :p_client_id AND expires_at > :p_now"
    " AND redirect_uri = :p_redirect_uri AND code_challenge_method = 'S256' AND code_challenge = :p_challenge")
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
# A refresh that asks for no narrower scope and acts for nobody: every check is the rotation's
# condition, so the usual refresh finds and rotates its token in one statement. On PostgreSQL
# the account's advisory lock is still taken before the scan (the uncorrelated EXISTS), its key
# computed from the account the token names. Any other outcome changes nothing and is read as
# before (RAW_SELECT_REFRESH), for reuse detection and the grace.
_OWNER = "(SELECT owner.account_id FROM tokens AS owner WHERE owner.token_hash = :p_hash AND owner.kind = 'refresh')"
RAW_REDEEM_REFRESH = {
    "sqlite": raw.update_returning(_TOKENS, "rotated_at = :p_now", _ROTATABLE + " AND mandate_id IS NULL"),
    "postgresql": raw.update_returning(
        _TOKENS, "rotated_at = :p_now",
        _ROTATABLE + " AND mandate_id IS NULL AND EXISTS (SELECT FROM (SELECT pg_advisory_xact_lock("
        + lock_key_sql(_OWNER) + ")) AS held)"),
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
    TOKEN_ENDPOINT_AUTH_METHODS = authlib_methods(TOKEN_AUTH_METHODS)

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
        """Find the code. A refused request leaves it as it was (security review item 6's class:
        nothing may change on a refused request): it is used up only where every check of the
        request holds (client, expiry, redirect_uri, PKCE S256), either here, by one UPDATE whose
        condition is all of them (``RAW_REDEEM_CODE``: a request as it should be; Authlib's checks
        then pass as they must), or, for any other request, after Authlib's checks in
        ``authenticate_user``. A code that was already redeemed is a replay: the tokens issued
        from it are revoked (RFC 6749 §4.1.2)."""
        server: Provider = self.server
        db = current_db.get()
        now = server.clock.now()
        code_hash = credential_hash(code)
        if code_hash is None:
            return None
        verifier = self.request.form.get("code_verifier") or ""
        redirect_uri = self.request.payload.redirect_uri
        if redirect_uri and CODE_VERIFIER_PATTERN.match(verifier):
            claimed = raw.first(db.connection(), RAW_REDEEM_CODE, {
                "p_hash": code_hash, "p_client_id": client.get_client_id(), "p_now": now,
                "p_redirect_uri": redirect_uri, "p_challenge": create_s256_code_challenge(verifier)})
            if claimed is not None:
                return CodeModel(claimed, claimed=True)
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
        other is a replay. The code's account exists (foreign keys). A code claimed already by
        ``query_authorization_code``, with every check in its UPDATE, is used up."""
        server: Provider = self.server
        db = current_db.get()
        now = server.clock.now()
        row = authorization_code.row
        claimed = row if authorization_code.claimed else raw.first(
            db.connection(), RAW_CLAIM_CODE, {"p_hash": row.code_hash, "p_client_id": row.client_id, "p_now": now})
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

    TOKEN_ENDPOINT_AUTH_METHODS = authlib_methods(TOKEN_AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True
    #: The unused successor a grace re-issue replaces (set by authenticate_refresh_token).
    _successor: str | None = None
    #: Rotated already, by the statement that found it (authenticate_refresh_token).
    _rotated: bool = False

    def authenticate_refresh_token(self, refresh_token):
        """Find the live refresh token of this client. A refused request must not rotate it
        (security review item 6): it is rotated here only when nothing is left to check (no
        narrower scope asked for, no delegation to verify: ``RAW_REDEEM_REFRESH``), else later in
        ``_rotate``. Otherwise nothing changes, except that reuse revokes the whole family (RFC
        9700 §4.14.2)."""
        server: Provider = self.server
        db = current_db.get()
        now = server.clock.now()
        token_hash = credential_hash(refresh_token)
        if token_hash is None:
            return None
        conn = db.connection()
        if not self.request.payload.scope:  # nothing left to check after this: rotate it at once
            rotated = raw.first(conn, RAW_REDEEM_REFRESH[conn.dialect.name], {
                "p_hash": token_hash, "p_client_id": self.request.client.get_client_id(), "p_now": now})
            if rotated is not None:
                self._rotated = True
                return TokenModel(rotated)
        row = raw.first(conn, RAW_SELECT_REFRESH, {"p_hash": token_hash})
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
        if self._rotated:
            return
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
        params = {"p_hash": row.token_hash, "p_client_id": row.client_id, "p_now": now}
        if conn.dialect.name == "postgresql":  # SQLite's statement takes no lock (one writer at a time)
            params["p_lock"] = lock_key(row.account_id)
        rotated = raw.first(conn, RAW_ROTATE_REFRESH[conn.dialect.name], params)
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

