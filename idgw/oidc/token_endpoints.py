"""The token endpoint's client authentication by ``private_key_jwt`` (RFC 7523), and the
introspection (RFC 7662) and revocation (RFC 7009) endpoints."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749.errors import OAuth2Error, UnsupportedTokenTypeError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError

from idgw import audit
from idgw.oidc.client_auth import (
    ASSERTION_LEEWAY,
    CLIENT_ASSERTION_ALGS,
    MAX_ASSERTION_LIFETIME,
    MAX_JTI_LENGTH,
    claim_jti,
    client_auth_error,
)
from idgw.oidc.context import current_db, current_ip, finding_disabled
from idgw.oidc.grants import revoke_family
from idgw.oidc.models import CONFIDENTIAL_AUTH_METHODS, GrantSubject, authlib_methods
from idgw.security import sha256_hex
from idgw.storage.models import Client, Token

if TYPE_CHECKING:
    from idgw.oidc.provider import Provider

log = logging.getLogger(__name__)

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

    CLIENT_AUTH_METHODS = authlib_methods(CONFIDENTIAL_AUTH_METHODS)

    def authenticate_endpoint_client(self, request):
        reset = finding_disabled.set(True)
        try:
            return super().authenticate_endpoint_client(request)
        finally:
            finding_disabled.reset(reset)

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
    CLIENT_AUTH_METHODS = authlib_methods(CONFIDENTIAL_AUTH_METHODS)

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

