"""OAuth 2.0 Token Exchange (RFC 8693) for acting on behalf of another at a named audience.

An e-service's back end (a confidential client registered for the grant type) presents an access
token it holds for a person (``subject_token``) and names another e-service (``audience``); the
answer is an access token for that audience in which ``sub`` is the principal and ``act`` the
person, when a delegation that person holds and accepted covers the audience (and the act named by
``delegation_act``). The actor is always the subject token's own person: a token exchange that
does not check the actor lets anyone holding any token act for anyone (a known escalation bug).

Refused, changing nothing: another client's token, a token that already acts for someone (no
chains through exchange), an unknown or non-delegating audience (``invalid_target``, §2.2.2), a
person below the audience's floors, ``actor_token`` (the actor is the subject token's holder), and
no delegation in effect (``invalid_grant``). No refresh token is issued (§2.2.1 allows none).
"""

from __future__ import annotations

import uuid

from authlib.oauth2.rfc6749 import grants as oauth2_grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from sqlalchemy import select

from idgw import audit
from idgw.assurance import current_policy
from idgw.oidc.acting import act_claim
from idgw.oidc.context import current_db, current_ip
from idgw.oidc.models import CONFIDENTIAL_AUTH_METHODS, TOKEN_EXCHANGE_GRANT, GrantSubject, authlib_methods
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Client, Token
from policies import AAL, IAL

GRANT_TYPE = TOKEN_EXCHANGE_GRANT
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class InvalidTargetError(OAuth2Error):
    error = "invalid_target"  # RFC 8693 §2.2.2


class TokenExchangeGrant(oauth2_grants.BaseGrant, oauth2_grants.TokenEndpointMixin):
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = authlib_methods(CONFIDENTIAL_AUTH_METHODS)

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(GRANT_TYPE):
            raise UnauthorizedClientError(f"The client is not authorized to use 'grant_type={GRANT_TYPE}'")
        self.request.client = client
        form = self.request.form
        if form.get("actor_token") or form.get("actor_token_type"):
            raise InvalidRequestError("actor_token is not supported: the actor is the subject token's own person")
        if not form.get("subject_token"):
            raise InvalidRequestError("Missing 'subject_token'")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(f"'subject_token_type' must be {ACCESS_TOKEN_TYPE}")
        if form.get("requested_token_type") not in (None, "", ACCESS_TOKEN_TYPE):
            raise InvalidRequestError(f"Only {ACCESS_TOKEN_TYPE} can be issued")
        if not form.get("audience"):
            raise InvalidRequestError("Missing 'audience': the e-service the token is for")
        if form.get("resource"):
            raise InvalidTargetError("Name the e-service by 'audience' (its client_id), not 'resource'")

    def create_token_response(self):
        server = self.server
        db = current_db.get()
        now = server.clock.now()
        form = self.request.form
        client = self.request.client
        row = self._subject_row(db, form["subject_token"], client.get_client_id(), now)
        audience = db.get(Client, form["audience"]) if len(form["audience"]) <= 64 else None
        policy = current_policy(db, audience.client_id) if audience else None
        if audience is None or audience.disabled_at is not None or policy is None or not policy.delegation_allowed:
            raise InvalidTargetError("The audience is not an e-service that accepts delegation")
        if IAL(row.ial) < policy.min_ial or AAL(row.aal) < policy.min_aal:
            raise InvalidGrantError("The person's sign-in does not meet the audience's assurance floors")
        act = form.get("delegation_act") or None
        try:
            acting = server.exchange(db, mandate_id=form.get("delegation_id") or None, account_id=row.account_id,
                                     audience=audience.client_id, act=act, now=now)
        except ValueError as exc:
            raise InvalidGrantError(f"No delegation in effect allows this ({getattr(exc, 'code', 'refused')})") \
                from exc
        scope = self._scope(form.get("scope"), row.scope, audience)
        ttl = max(1, min(server.settings.access_token_ttl, acting.claim["exp"] - now))
        jti = random_token(18)

        def sub_of(key: str) -> str:
            return server.subject_for(client=audience, account_id=key)

        claims = {"iss": server.settings.issuer, "sub": sub_of(acting.principal), "aud": audience.client_id,
                  "client_id": client.get_client_id(), "iat": now, "exp": now + ttl, "jti": jti, "scope": scope,
                  "auth_time": row.auth_time, "acr": row.acr, "amr": list(row.amr), "ial": row.ial, "aal": row.aal,
                  "act": act_claim(acting, sub_of=sub_of), "delegation": acting.claim}
        access_token = server.keys.signer("ES256").sign(claims, typ="at+jwt")
        subject = GrantSubject.of(row)
        db.add(Token(id=str(uuid.uuid4()), kind="access", token_hash=sha256_hex(access_token), jti=jti,
                     family_id=str(uuid.uuid4()), client_id=audience.client_id, account_id=row.account_id,
                     session_id=row.session_id, scope=scope, auth_time=row.auth_time, acr=row.acr,
                     amr=list(row.amr), ial=row.ial, aal=row.aal, claims=None, release=[], issued_at=now,
                     expires_at=now + ttl, mandate_id=acting.mandate_id, mandate_act=act))
        audit.record(db, "token.exchanged", at=now, actor=subject.account_id, on_behalf_of=acting.principal,
                     client_id=client.get_client_id(), session_id=row.session_id, ip=current_ip.get(),
                     audience=audience.client_id, mandate_id=acting.mandate_id, act=act)
        body = {"access_token": access_token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer",
                "expires_in": ttl, "scope": scope}
        return 200, body, self.TOKEN_RESPONSE_HEADER

    def _subject_row(self, db, token: str, client_id: str, now: int):
        """The live access token row of ``client_id`` that ``token`` is, checked by signature and
        by record; it must be the person's own (not already acting for someone)."""
        try:
            claims = self.server.verify_own_jwt(token, typ="at+jwt")
        except ValueError as exc:
            raise InvalidRequestError(f"The subject_token is invalid: {exc}") from exc
        row = db.scalar(select(Token).where(Token.jti == claims.get("jti")))
        if row is None or row.kind != "access" or row.token_hash != sha256_hex(token) or row.revoked_at is not None \
                or row.expires_at <= now or row.client_id != client_id:
            raise InvalidRequestError("The subject_token is not an active access token issued to this client")
        if row.mandate_id:
            raise InvalidRequestError("The subject_token already acts for someone else")
        return row

    @staticmethod
    def _scope(asked: str | None, held: str, audience: Client) -> str:
        """The scope of the new token: what was asked (default: what the subject token had),
        within the subject token's scope and what the audience may be issued."""
        have = set(held.split()) & set(audience.scope.split())
        want = set((asked or held).split())
        if not want <= set(held.split()):
            raise InvalidScopeError("The scope asked for is wider than the subject token's")
        return " ".join(sorted(want & have))
